"""segments_expire: retention by the agreement's days, never touching footage held as evidence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from cameras.models import Camera, EvidenceRequest, Segment
from cameras.services import segments_expire
from cameras.storage import object_exists
from community.models import AuditEvent, SharingAgreement, User
from tests.cameras.recorded import segments_stored
from tests.s3 import S3Endpoint


@pytest.fixture
def recording_camera(alice_camera: Camera, alice_agreement: SharingAgreement) -> Camera:
    alice_agreement.recording_allowed = True
    alice_agreement.retention_days = 7
    alice_agreement.save()
    return alice_camera


def _hold(camera: Camera, *, segments: list[Segment], by: User, state: str) -> EvidenceRequest:
    request = EvidenceRequest.objects.create(
        business=camera.business,
        case_number="2026-000001",
        reason="Break-in",
        window_start=segments[0].started_at,
        window_end=segments[-1].ended_at,
        requested_by=by,
        state=state,
    )
    request.cameras.set([camera])
    return request


def test_it_deletes_segments_past_retention_and_keeps_the_rest(recording_camera: Camera, tmp_path: Path) -> None:
    old = segments_stored(camera=recording_camera, start=timezone.now() - timedelta(days=8), count=2, scratch=tmp_path)
    recent = segments_stored(
        camera=recording_camera, start=timezone.now() - timedelta(days=6), count=2, scratch=tmp_path
    )

    assert segments_expire() == 2

    assert set(Segment.objects.values_list("pk", flat=True)) == {s.pk for s in recent}
    assert not any(object_exists(name=s.key) for s in old)
    assert all(object_exists(name=s.key) for s in recent)
    event = AuditEvent.objects.get(action="segments.expire")
    assert event.camera_id == recording_camera.pk and event.details == {"segments": 2}


def test_it_deletes_the_objects_in_s3_too(s3_storage: S3Endpoint, recording_camera: Camera, tmp_path: Path) -> None:
    old = segments_stored(camera=recording_camera, start=timezone.now() - timedelta(days=9), count=1, scratch=tmp_path)

    segments_expire()

    listed = s3_storage.client().list_objects_v2(Bucket=s3_storage.bucket, Prefix="segments/")
    assert [o["Key"] for o in listed.get("Contents", [])] == []
    assert not Segment.objects.filter(pk=old[0].pk).exists()


@pytest.mark.parametrize("state", ["pending", "approved", "exporting", "exported", "failed"])
def test_it_never_deletes_segments_held_by_evidence(
    recording_camera: Camera, monitor: User, tmp_path: Path, state: str
) -> None:
    old = segments_stored(camera=recording_camera, start=timezone.now() - timedelta(days=8), count=3, scratch=tmp_path)
    _hold(recording_camera, segments=old[1:2], by=monitor, state=state)

    segments_expire()

    assert list(Segment.objects.values_list("pk", flat=True)) == [old[1].pk]
    assert object_exists(name=old[1].key)


def test_a_denied_request_holds_nothing(recording_camera: Camera, monitor: User, tmp_path: Path) -> None:
    old = segments_stored(camera=recording_camera, start=timezone.now() - timedelta(days=8), count=2, scratch=tmp_path)
    _hold(recording_camera, segments=old, by=monitor, state=EvidenceRequest.State.DENIED)

    assert segments_expire() == 2


def test_a_camera_whose_terms_were_withdrawn_keeps_a_day(recording_camera: Camera, tmp_path: Path) -> None:
    segments_stored(camera=recording_camera, start=timezone.now() - timedelta(hours=30), count=1, scratch=tmp_path)
    kept = segments_stored(
        camera=recording_camera, start=timezone.now() - timedelta(hours=20), count=1, scratch=tmp_path
    )
    recording_camera.agreement = None
    recording_camera.save()

    assert segments_expire() == 1
    assert list(Segment.objects.values_list("pk", flat=True)) == [kept[0].pk]


def test_what_analysis_saw_in_expired_footage_goes_with_it(recording_camera: Camera, tmp_path: Path) -> None:
    from django.core.files.base import ContentFile

    from alerts.models import Detection

    old = segments_stored(camera=recording_camera, start=timezone.now() - timedelta(days=8), count=1, scratch=tmp_path)
    detection = Detection.objects.create(
        camera=recording_camera,
        segment=old[0],
        at=old[0].started_at,
        object_class="person",
        confidence=0.9,
        x=0.1,
        y=0.1,
        w=0.2,
        h=0.5,
        track_id="t-1",
    )
    detection.thumbnail.save("detection-1.jpg", ContentFile(b"\xff\xd8 jpeg"), save=True)
    name = detection.thumbnail.name

    segments_expire()

    assert not Detection.objects.exists()
    assert not object_exists(name=name)
