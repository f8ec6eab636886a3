"""Playback of recordings: who may open the player and its playlist, what each gets, and that each playlist is
audited once. Police get what was shared live, no older than PLAYBACK_HOURS; the owner gets all they keep."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from datetime import timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from cameras.models import Camera, Segment
from cameras.storage import signed_link_target
from community.models import AuditEvent, Business, SharingAgreement
from tests.cameras.recorded import segments_stored
from tests.cameras.web.conftest import PERSONAS
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, SiteFactory

EXPECTED = {"alice": 200, "bob": 200, "charlie": 404, "monitor": 200, "supervisor": 200}


def _page(camera: Camera) -> str:
    return reverse("cameras:camera_playback", args=[camera.pk])


def _playlist(camera: Camera) -> str:
    return reverse("cameras:camera_recordings", args=[camera.pk])


def _window(segments: list[Segment]) -> dict[str, str]:
    return {
        "since": (segments[0].started_at - timedelta(minutes=1)).isoformat(),
        "until": (segments[-1].ended_at + timedelta(minutes=1)).isoformat(),
    }


def _playbacks() -> int:
    return AuditEvent.objects.filter(action="camera.playback").count()


@pytest.mark.parametrize("url", [_page, _playlist], ids=["page", "playlist"])
def test_anonymous_is_sent_to_login(client_for, alice_camera, url) -> None:
    response = client_for(None).get(url(alice_camera))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("community:login"))


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", [_page, _playlist], ids=["page", "playlist"])
def test_each_persona_gets_the_status_the_access_matrix_gives(request, client_for, footage, alice_camera, url, persona):
    response = client_for(request.getfixturevalue(persona)).get(url(alice_camera))

    assert response.status_code == EXPECTED[persona]


def test_the_playlist_lists_segments_with_short_lived_links_and_is_audited_once(
    client_for, monitor, alice_camera, footage
) -> None:
    before = _playbacks()

    response = client_for(monitor).get(_playlist(alice_camera), _window(footage))

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    body = response.json()
    assert [s["sha256"] for s in body["segments"]] == [s.sha256 for s in footage]
    assert body["segments"][0]["start"] == footage[0].started_at.isoformat()
    assert body["expires_in"] <= 300
    # One event for the list, whatever the number of segments in it.
    assert _playbacks() == before + 1
    event = AuditEvent.objects.filter(action="camera.playback").latest("id")
    assert (
        event.actor == monitor and event.camera_id == alice_camera.pk and event.business_id == alice_camera.business_id
    )
    assert event.details["until"] == _window(footage)["until"]


def test_each_link_plays_the_segment_and_stops_working_after_five_minutes(
    client_for, monitor, alice_camera, footage, settings
) -> None:
    body = client_for(monitor).get(_playlist(alice_camera), _window(footage)).json()
    url = body["segments"][0]["url"]

    served = client_for(None).get(urlsplit(url).path)

    assert served.status_code == 200
    assert hashlib.sha256(b"".join(served.streaming_content)).hexdigest() == footage[0].sha256
    token = urlsplit(url).path.rsplit("/", 1)[1]
    assert settings.MEDIA_URL_EXPIRE_S <= 300
    later = time.time() + settings.MEDIA_URL_EXPIRE_S + 1
    with mock.patch("django.core.signing.time.time", return_value=later), pytest.raises(signing.SignatureExpired):
        signed_link_target(token=token)


def test_a_monitor_gets_nothing_older_than_the_playback_hours_nor_what_was_not_shared_live(
    client_for, monitor, alice, alice_camera, footage, settings
) -> None:
    now = timezone.now()
    old = Segment.objects.create(
        camera=alice_camera,
        started_at=now - timedelta(hours=settings.PLAYBACK_HOURS, minutes=30),
        ended_at=now - timedelta(hours=settings.PLAYBACK_HOURS, minutes=30) + timedelta(seconds=10),
        key="segments/old.mp4",
        size_bytes=10,
        sha256="0" * 64,
        shared_live=True,
    )
    private = Segment.objects.create(
        camera=alice_camera,
        started_at=now - timedelta(minutes=20),
        ended_at=now - timedelta(minutes=20) + timedelta(seconds=10),
        key="segments/private.mp4",
        size_bytes=10,
        sha256="1" * 64,
        shared_live=False,
    )
    old_window = {"since": (old.started_at - timedelta(minutes=5)).isoformat(), "until": old.ended_at.isoformat()}
    recent_window = {"since": (private.started_at - timedelta(minutes=1)).isoformat(), "until": now.isoformat()}

    for_monitor_old = client_for(monitor).get(_playlist(alice_camera), old_window).json()
    for_monitor_recent = client_for(monitor).get(_playlist(alice_camera), recent_window).json()
    for_alice_old = client_for(alice).get(_playlist(alice_camera), old_window).json()
    for_alice_recent = client_for(alice).get(_playlist(alice_camera), recent_window).json()

    assert for_monitor_old["segments"] == []
    assert for_monitor_old["available_since"] is not None
    assert [s["sha256"] for s in for_monitor_recent["segments"]] == [s.sha256 for s in footage]
    assert [s["sha256"] for s in for_alice_old["segments"]] == [old.sha256]
    assert [s["sha256"] for s in for_alice_recent["segments"]] == [private.sha256] + [s.sha256 for s in footage]
    assert for_alice_old["available_since"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": SharingAgreement.Mode.REGISTRY}, "registry only"),
        ({"recording_allowed": False}, "does not share recordings"),
    ],
    ids=["registry-only", "not-recording"],
)
@pytest.mark.parametrize("url", [_page, _playlist], ids=["page", "playlist"])
def test_a_monitor_is_refused_with_the_reason_when_the_terms_do_not_share_recordings(
    client_for, monitor, alice_camera, recording, url, change, message
) -> None:
    for field, value in change.items():
        setattr(recording, field, value)
    recording.save()
    before = _playbacks()

    response = client_for(monitor).get(url(alice_camera))

    assert response.status_code == 403
    assert message in response.content.decode()
    assert _playbacks() == before


def test_the_owner_still_plays_back_what_her_terms_do_not_share(client_for, alice, alice_camera, recording) -> None:
    recording.mode = SharingAgreement.Mode.REGISTRY
    recording.save()

    assert client_for(alice).get(_page(alice_camera)).status_code == 200


def test_a_monitor_gets_404_once_the_owner_revokes_the_terms(client_for, monitor, alice_camera, recording) -> None:
    # Revoked terms take the camera out of what police see at all, like every other page of it.
    recording.state = SharingAgreement.State.REVOKED
    recording.save()

    assert client_for(monitor).get(_page(alice_camera)).status_code == 404
    assert client_for(monitor).get(_playlist(alice_camera)).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2026-11-21T10:00:00Z", "until": "2026-11-21T09:00:00Z"},
        {"since": "2026-11-21T08:00:00Z", "until": "2026-11-21T10:00:00Z"},
        {"since": "yesterday"},
    ],
    ids=["reversed", "over-an-hour", "not-a-time"],
)
def test_a_bad_window_is_a_400_with_the_reason_and_is_not_audited(client_for, monitor, alice_camera, footage, query):
    before = _playbacks()

    response = client_for(monitor).get(_playlist(alice_camera), query)

    assert response.status_code == 400
    assert response.json()
    assert _playbacks() == before


def test_the_page_draws_the_recorded_stretches_in_the_site_time_zone(client_for, monitor, alice_camera, footage):
    response = client_for(monitor).get(_page(alice_camera))

    config = response.context["config"]
    assert config["timeZone"] == "America/Detroit"
    start, end = config["coverage"][-1]
    assert start == int(footage[0].started_at.timestamp() * 1000)
    assert end == int(footage[-1].ended_at.timestamp() * 1000)
    assert config["recordingsUrl"] == _playlist(alice_camera)
    # Opening the page shows what exists; playing (the playlist) is what is audited.
    assert not AuditEvent.objects.filter(action="camera.playback").exists()


def test_a_monitor_timeline_reaches_back_only_as_far_as_playback_is_allowed(
    client_for, monitor, alice_camera, footage, settings
):
    response = client_for(monitor).get(_page(alice_camera), {"hours": "168"})

    config = response.context["config"]
    assert config["windowEnd"] - config["windowStart"] <= settings.PLAYBACK_HOURS * 3600 * 1000
    assert 168 not in response.context["offered_hours"]


def test_the_camera_pages_link_to_playback(client_for, monitor, alice, alice_camera, recording) -> None:
    link = _page(alice_camera)

    assert (
        link
        in client_for(monitor).get(reverse("cameras:police_camera_detail", args=[alice_camera.pk])).content.decode()
    )
    assert link in client_for(alice).get(reverse("cameras:camera_detail", args=[alice_camera.pk])).content.decode()


def test_presigned_s3_links_expire_within_five_minutes_and_serve_the_segment(
    client_for, monitor, alice_camera, recording, s3_storage, tmp_path
) -> None:
    segments = segments_stored(
        camera=alice_camera, start=timezone.now() - timedelta(minutes=3), count=1, scratch=tmp_path
    )

    body = client_for(monitor).get(_playlist(alice_camera), _window(segments)).json()

    url = body["segments"][0]["url"]
    assert url.startswith(f"{s3_storage.url}/{s3_storage.bucket}/")
    assert int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) <= 300
    with urllib.request.urlopen(url, timeout=5) as response:
        assert hashlib.sha256(response.read()).hexdigest() == segments[0].sha256


def test_a_camera_of_an_unverified_partner_is_not_found_for_monitors(client_for, monitor) -> None:
    business = BusinessFactory(state=Business.State.PENDING)
    camera = CameraFactory(site=SiteFactory(business=business), agreement=AgreementFactory(business=business))

    assert client_for(monitor).get(_page(camera)).status_code == 404
