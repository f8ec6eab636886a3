"""Who may watch which camera live, and when: the WHEP endpoint's checks in order (404, 403, 409, 429)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cameras.models import Camera, LiveSession
from cameras.selectors import live_decision
from cameras.services import camera_alarm_open
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, SiteFactory

DETROIT = ZoneInfo("America/Detroit")
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=DETROIT)
MONDAY_NIGHT = datetime(2026, 11, 23, 23, 0, tzinfo=DETROIT)


def decide(camera, user, at=None):
    return live_decision(camera=Camera.objects.get(pk=camera.pk), user=user, at=at)


@pytest.mark.parametrize("persona", ["monitor", "supervisor", "alice", "bob"])
def test_a_shared_online_camera_may_be_watched(request, alice_camera, persona):
    assert decide(alice_camera, request.getfixturevalue(persona)).allowed


def test_charlie_gets_404_for_alices_camera(alice_camera, charlie):
    assert decide(alice_camera, charlie).status == 404


def test_a_camera_of_an_unverified_partner_is_404_for_police(monitor):
    camera = CameraFactory(site=SiteFactory(business=BusinessFactory(state="pending")))
    assert decide(camera, monitor).status == 404


@pytest.fixture
def scheduled_camera(alice_camera):
    agreement = alice_camera.agreement
    agreement.mode = "schedule"
    agreement.schedule = {"mon": [["08:00", "18:00"]]}
    agreement.save()
    return alice_camera


def test_police_outside_the_owners_schedule_get_403_with_the_reason(scheduled_camera, monitor):
    decision = decide(scheduled_camera, monitor, at=MONDAY_NIGHT)
    assert decision.status == 403
    assert "schedule" in decision.message
    assert decide(scheduled_camera, monitor, at=MONDAY_NOON).allowed


def test_the_owner_watches_her_own_camera_outside_her_schedule(scheduled_camera, alice):
    assert decide(scheduled_camera, alice, at=MONDAY_NIGHT).allowed


def test_registry_only_cameras_are_never_live_for_police(alice_camera, monitor):
    alice_camera.agreement.mode = "registry"
    alice_camera.agreement.save()
    decision = decide(alice_camera, monitor)
    assert (decision.status, decision.message) == (403, "The owner shares this camera's location only, not live video.")


def test_alarm_terms_open_live_view_only_during_an_alarm(alice_camera, monitor, alice):
    alice_camera.agreement.mode = "alarm"
    alice_camera.agreement.alarm_window_minutes = 10
    alice_camera.agreement.save()
    assert decide(alice_camera, monitor).status == 403
    camera_alarm_open(camera=alice_camera, by=alice, source="owner panic button")
    assert decide(alice_camera, monitor).allowed
    assert decide(alice_camera, monitor, at=timezone.now() + timedelta(minutes=11)).status == 403


def test_an_offline_camera_is_409_with_the_probe_message(alice_camera, monitor):
    Camera.objects.filter(pk=alice_camera.pk).update(health="offline", health_message="It did not answer within 10 s.")
    decision = decide(alice_camera, monitor)
    assert decision.status == 409
    assert "did not answer" in decision.message


def test_an_h265_camera_is_409_not_a_black_tile(alice_camera, monitor):
    Camera.objects.filter(pk=alice_camera.pk).update(health="error", codec="hevc")
    decision = decide(alice_camera, monitor)
    assert decision.status == 409
    assert "HEVC is not supported for live view" in decision.message


def test_push_cameras_are_409_until_push_ingest_exists(alice_site, alice_agreement, monitor):
    camera = CameraFactory(site=alice_site, agreement=alice_agreement, source="push", stream_url_encrypted="")
    assert decide(camera, monitor).status == 409


def test_too_many_open_sessions_is_429(alice_camera, monitor, settings):
    settings.LIVE_MAX_SESSIONS_PER_VIEWER = 2
    for n in range(2):
        LiveSession.objects.create(id=f"s{n}", camera=alice_camera, viewer=monitor, relay_id="r")
    assert decide(alice_camera, monitor).status == 429
    LiveSession.objects.filter(pk="s0").update(ended_at=timezone.now())
    assert decide(alice_camera, monitor).allowed


def test_a_revoked_agreement_is_404_for_monitors(alice_camera, monitor, alice):
    from community.services import agreement_revoke

    agreement_revoke(agreement=alice_camera.agreement, by=alice)
    assert decide(alice_camera, monitor).status == 404


def test_a_suspended_partner_is_403_for_supervisors(alice_camera, alice_business, supervisor):
    from community.services import business_suspend

    business_suspend(business=alice_business, by=supervisor, reason="checking")
    assert decide(alice_camera, supervisor).status == 403


def test_an_active_agreement_of_another_business_does_not_leak(monitor):
    other = BusinessFactory()
    AgreementFactory(business=other)
    camera = CameraFactory(site=SiteFactory(business=other))  # no terms attached
    assert decide(camera, monitor).status == 404
