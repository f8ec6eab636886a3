"""The WHEP endpoint's refusals, before any relay is involved: clear JSON errors with the right status."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from cameras.models import Camera, LiveSession

OFFER = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def post_offer(client, camera_id, **extra):
    return client.post(
        reverse("cameras:whep_camera", args=[camera_id]), data=OFFER, content_type="application/sdp", **extra
    )


def test_anonymous_gets_401_with_a_bearer_challenge(client_for, alice_camera):
    response = post_offer(client_for(None), alice_camera.pk)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


def test_a_wrong_token_gets_401(client_for, alice_camera):
    assert post_offer(client_for(None), alice_camera.pk, HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_a_deactivated_officers_token_gets_401(client_for, monitor, alice_camera):
    token = Token.objects.create(user=monitor)
    monitor.is_active = False
    monitor.save()
    response = post_offer(client_for(None), alice_camera.pk, HTTP_AUTHORIZATION=f"Bearer {token.key}")
    assert response.status_code == 401


def test_charlie_gets_404_for_alices_camera(client_for, charlie, alice_camera):
    assert post_offer(client_for(charlie), alice_camera.pk).status_code == 404


def test_a_camera_that_does_not_exist_is_404(client_for, monitor):
    assert post_offer(client_for(monitor), 999999).status_code == 404


def test_a_bearer_token_of_charlie_gets_404_too(client_for, charlie, alice_camera):
    token = Token.objects.create(user=charlie)
    response = post_offer(client_for(None), alice_camera.pk, HTTP_AUTHORIZATION=f"Bearer {token.key}")
    assert response.status_code == 404


def test_outside_the_schedule_police_get_403_with_the_reason(client_for, monitor, alice_camera):
    alice_camera.agreement.mode = "registry"
    alice_camera.agreement.save()
    response = post_offer(client_for(monitor), alice_camera.pk)
    assert response.status_code == 403
    assert response.json() == {"detail": "The owner shares this camera's location only, not live video."}


def test_an_offline_camera_is_409(client_for, monitor, alice_camera):
    Camera.objects.filter(pk=alice_camera.pk).update(health="offline", health_message="Connection refused.")
    response = post_offer(client_for(monitor), alice_camera.pk)
    assert response.status_code == 409
    assert "offline" in response.json()["detail"]


def test_an_h265_camera_is_409(client_for, monitor, alice_camera):
    Camera.objects.filter(pk=alice_camera.pk).update(codec="hevc", health="error")
    assert "not supported for live view" in post_offer(client_for(monitor), alice_camera.pk).json()["detail"]


def test_too_many_sessions_is_429(client_for, monitor, alice_camera, settings):
    settings.LIVE_MAX_SESSIONS_PER_VIEWER = 1
    LiveSession.objects.create(id="open", camera=alice_camera, viewer=monitor, relay_id="r")
    assert post_offer(client_for(monitor), alice_camera.pk).status_code == 429


def test_an_offer_must_be_sdp(client_for, monitor, alice_camera):
    response = client_for(monitor).post(
        reverse("cameras:whep_camera", args=[alice_camera.pk]), data={"sdp": "x"}, content_type="application/json"
    )
    assert response.status_code == 415


def test_get_is_405(client_for, monitor, alice_camera):
    assert client_for(monitor).get(reverse("cameras:whep_camera", args=[alice_camera.pk])).status_code == 405


def test_a_session_post_needs_its_csrf_token(monitor, alice_camera):
    from django.test import Client

    from tests.conftest import log_in

    client = log_in(Client(enforce_csrf_checks=True), monitor)
    response = post_offer(client, alice_camera.pk)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_an_officer_without_the_second_factor_is_sent_to_it(client, monitor, alice_camera):
    client.force_login(monitor)
    response = post_offer(client, alice_camera.pk)
    assert response.status_code == 302


@pytest.mark.parametrize("persona", ["charlie", "alice", "supervisor"])
def test_only_the_viewer_can_end_a_session(request, client_for, monitor, alice_camera, persona):
    LiveSession.objects.create(id="monicas", camera=alice_camera, viewer=monitor, relay_id="r")
    response = client_for(request.getfixturevalue(persona)).delete(reverse("cameras:whep_session", args=["monicas"]))
    assert response.status_code == 404
    assert LiveSession.objects.get(pk="monicas").ended_at is None


def test_ending_an_unknown_session_is_404_and_anonymous_is_401(client_for, monitor):
    assert client_for(monitor).delete(reverse("cameras:whep_session", args=["nope"])).status_code == 404
    assert client_for(None).delete(reverse("cameras:whep_session", args=["nope"])).status_code == 401


def test_trickle_ice_patch_is_405(client_for, monitor):
    assert client_for(monitor).patch(reverse("cameras:whep_session", args=["x"])).status_code == 405
