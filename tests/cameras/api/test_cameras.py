"""Enrolling and changing cameras through the API: push tokens, stream addresses, secrets kept secret, bad input."""

from __future__ import annotations

import pytest

from cameras.credentials import push_token_hash, stream_url_decrypt
from cameras.models import Camera
from community.models import AuditEvent
from tests.factories import AgreementFactory, BusinessFactory, SiteFactory

SECRET = "hunter2-very-secret"


@pytest.fixture
def alice_api(client_as, alice):
    return client_as("alice")


def _enrol(client, site, **fields):
    return client.post("/api/cameras/", {"site": site.pk, "name": "Back door", **fields}, format="json")


def test_an_owner_enrols_a_pull_camera_and_its_credentials_are_stored_encrypted(alice_api, alice_site, alice_agreement):
    response = _enrol(
        alice_api,
        alice_site,
        stream_url="rtsp://127.0.0.1:1/back",
        stream_username="admin",
        stream_password=SECRET,
        agreement=alice_agreement.pk,
        placement="indoor",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    camera = Camera.objects.get(pk=body["id"])
    assert body["stream_url_masked"] == "rtsp://admin:••••••@127.0.0.1:1/back"
    assert body["push_token"] is None
    assert (body["business"], body["site"], body["agreement"], body["mode"]) == (
        alice_site.business_id,
        alice_site.pk,
        alice_agreement.pk,
        "always",
    )
    assert stream_url_decrypt(camera.stream_url_encrypted) == f"rtsp://admin:{SECRET}@127.0.0.1:1/back"
    assert AuditEvent.objects.filter(action="camera.create", camera_id=camera.pk).exists()


def test_enrolling_a_pull_camera_probes_it_after_the_commit(alice_api, alice_site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _enrol(alice_api, alice_site, stream_url="rtsp://127.0.0.1:1/back")

    camera = Camera.objects.get(pk=response.json()["id"])
    assert camera.health == Camera.Health.OFFLINE
    assert camera.last_probe_at is not None
    assert camera.health_message


def test_a_push_camera_gets_its_token_once(alice_api, alice_site):
    response = _enrol(alice_api, alice_site, source="push")

    assert response.status_code == 201, response.content
    body = response.json()
    camera = Camera.objects.get(pk=body["id"])
    assert camera.push_token_hash == push_token_hash(body["push_token"])
    assert body["push_token_hint"] == body["push_token"][-4:]
    detail = alice_api.get(f"/api/cameras/{camera.pk}/").json()
    assert "push_token" not in detail
    assert body["push_token"] not in str(detail)


def test_rotating_a_push_token_replaces_it(alice_api, alice_site):
    camera_id = _enrol(alice_api, alice_site, source="push").json()["id"]

    response = alice_api.post(f"/api/cameras/{camera_id}/push-token/")

    assert response.status_code == 200
    camera = Camera.objects.get(pk=camera_id)
    assert camera.push_token_hash == push_token_hash(response.json()["push_token"])
    assert camera.push_token_hint == response.json()["push_token_hint"]


def test_a_pull_camera_has_no_push_token_to_rotate(alice_api, alice_camera):
    response = alice_api.post(f"/api/cameras/{alice_camera.pk}/push-token/")

    assert response.status_code == 400
    assert response.json() == {"detail": "Only push cameras have a push token."}


@pytest.mark.parametrize("persona", ["alice", "bob", "monitor", "supervisor"])
def test_camera_answers_never_contain_the_password_or_the_encrypted_address(client_as, persona, alice_site):
    created = _enrol(client_as("alice"), alice_site, stream_url=f"rtsp://admin:{SECRET}@127.0.0.1:1/back")
    camera = Camera.objects.get(pk=created.json()["id"])
    AgreementFactory(business=alice_site.business, name="Back terms").cameras.add(camera)
    client = client_as(persona)

    answers = [
        created,
        client.get(f"/api/cameras/{camera.pk}/"),
        client.get("/api/cameras/"),
        client.get("/api/cameras/map/"),
        client_as("alice").patch(f"/api/cameras/{camera.pk}/", {"views": "Alley"}, format="json"),
    ]

    for answer in answers:
        assert answer.status_code < 300
        assert SECRET not in answer.content.decode()
        assert camera.stream_url_encrypted not in answer.content.decode()
        assert "stream_url_encrypted" not in answer.content.decode()


def test_police_do_not_get_the_stream_address_even_masked(client_as, alice_camera):
    body = client_as("monitor").get(f"/api/cameras/{alice_camera.pk}/").json()

    assert body["stream_url_masked"] is None
    assert body["push_token_hint"] is None
    assert client_as("alice").get(f"/api/cameras/{alice_camera.pk}/").json()["stream_url_masked"] == (
        "rtsp://admin:••••••@127.0.0.1:1/cam1"
    )


def test_a_monitor_viewing_a_camera_leaves_a_trace_for_the_owner(client_as, alice_camera, monitor):
    client_as("monitor").get(f"/api/cameras/{alice_camera.pk}/")

    event = AuditEvent.objects.get(action="camera.view_page", camera_id=alice_camera.pk)
    assert event.actor == monitor
    assert event.business_id == alice_camera.business_id


def test_an_owner_viewing_her_camera_leaves_no_view_event(alice_api, alice_camera):
    alice_api.get(f"/api/cameras/{alice_camera.pk}/")

    assert not AuditEvent.objects.filter(action__startswith="camera.view").exists()


@pytest.mark.parametrize(
    ("stream_url", "message"),
    [
        (
            "ftp://192.0.2.10/stream",
            "Lantern supports stream addresses starting with rtsp://, rtsps://, http:// or https:// (not ftp://).",
        ),
        ("rtsp://", "The stream address needs a host name or IP address after the //."),
        ("rtsp://cam host/stream", "The stream address must not contain spaces or control characters."),
        ("rtsp://192.0.2.10:99999/x", "The stream address has an invalid port number."),
        (
            "192.0.2.10/stream",
            "Lantern supports stream addresses starting with rtsp://, rtsps://, http:// or https://.",
        ),
        ("", "Enter the camera's stream address, for example rtsp://192.0.2.10:554/stream1."),
        ("rtsp://192.0.2.10/" + "x" * 1000, "The stream address is longer than 1000 characters."),
    ],
)
def test_a_bad_stream_address_is_refused_with_a_clear_message_and_nothing_is_saved(
    alice_api, alice_site, stream_url, message
):
    events_before = AuditEvent.objects.count()

    response = _enrol(alice_api, alice_site, stream_url=stream_url)

    assert response.status_code == 400
    assert response.json() == {"stream_url": [message]}
    assert Camera.objects.count() == 0
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "front DOOR"}, {"name": ["This business already has a camera with this name."]}),
        ({"name": "x" * 101}, {"name": ["Ensure this value has at most 100 characters (it has 101)."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"placement": "roof"}, {"placement": ['"roof" is not a valid choice.']}),
        ({"source": "carrier-pigeon"}, {"source": ['"carrier-pigeon" is not a valid choice.']}),
    ],
)
def test_bad_camera_fields_are_refused_and_nothing_is_saved(alice_api, alice_site, alice_camera, fields, expected):
    response = _enrol(alice_api, alice_site, stream_url="rtsp://127.0.0.1:1/x", **fields)

    assert response.status_code == 400
    assert response.json() == expected
    assert Camera.objects.count() == 1


def test_a_camera_must_be_enrolled_at_a_site_the_owner_can_see(client_as, alice_site):
    response = _enrol(client_as("charlie"), alice_site, stream_url="rtsp://127.0.0.1:1/x")

    assert response.status_code == 404
    assert Camera.objects.count() == 0


def test_bob_changes_the_stream_address_and_credentials_together(client_as, alice_camera):
    response = client_as("bob").patch(
        f"/api/cameras/{alice_camera.pk}/",
        {"stream_url": "rtsp://192.0.2.20/main", "stream_username": "viewer", "stream_password": SECRET},
        format="json",
    )

    assert response.status_code == 200, response.content
    alice_camera.refresh_from_db()
    assert stream_url_decrypt(alice_camera.stream_url_encrypted) == f"rtsp://viewer:{SECRET}@192.0.2.20/main"
    assert response.json()["stream_url_masked"] == "rtsp://viewer:••••••@192.0.2.20/main"
    assert response.json()["health"] == "unknown"


def test_a_new_password_alone_goes_into_the_stored_address(alice_api, alice_camera):
    response = alice_api.patch(f"/api/cameras/{alice_camera.pk}/", {"stream_password": "n3w-pass"}, format="json")

    assert response.status_code == 200
    alice_camera.refresh_from_db()
    assert stream_url_decrypt(alice_camera.stream_url_encrypted) == "rtsp://admin:n3w-pass@127.0.0.1:1/cam1"
    assert "n3w-pass" not in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"stream_url": "ftp://x"},
            {
                "stream_url": [
                    "Lantern supports stream addresses starting with rtsp://, rtsps://, http:// or https:// (not ftp://)."
                ]
            },
        ),
        ({"name": "x" * 101}, {"name": ["Ensure this value has at most 100 characters (it has 101)."]}),
        ({"site": 999999}, {"site": ["Choose one of this business's sites."]}),
        ({"agreement": 999999}, {"agreement": ["Choose sharing terms of this business."]}),
    ],
)
def test_a_bad_camera_change_is_refused_and_the_camera_is_unchanged(alice_api, alice_camera, fields, expected):
    before = Camera.objects.filter(pk=alice_camera.pk).values().get()

    response = alice_api.patch(f"/api/cameras/{alice_camera.pk}/", fields, format="json")

    assert response.status_code == 400
    assert response.json() == expected
    assert Camera.objects.filter(pk=alice_camera.pk).values().get() == before


def test_a_camera_cannot_move_to_a_site_of_another_business_of_the_same_owner(alice_api, alice, alice_camera):
    other_site = SiteFactory(business=BusinessFactory(owner=alice, name="Alice's Bakery"), name="Bakery")

    response = alice_api.patch(f"/api/cameras/{alice_camera.pk}/", {"site": other_site.pk}, format="json")

    assert response.status_code == 400
    assert response.json() == {"site": ["Choose one of this business's sites."]}
    alice_camera.refresh_from_db()
    assert alice_camera.site_id != other_site.pk


def test_an_owner_can_take_a_camera_out_of_its_terms(alice_api, alice_camera):
    response = alice_api.patch(f"/api/cameras/{alice_camera.pk}/", {"agreement": None}, format="json")

    assert response.status_code == 200
    assert (response.json()["agreement"], response.json()["mode"]) == (None, None)


def test_deleting_a_camera_removes_it_and_keeps_its_history(alice_api, alice_camera):
    response = alice_api.delete(f"/api/cameras/{alice_camera.pk}/")

    assert response.status_code == 204
    assert not Camera.objects.filter(pk=alice_camera.pk).exists()
    assert AuditEvent.objects.filter(action="camera.delete", camera_id=alice_camera.pk).exists()
