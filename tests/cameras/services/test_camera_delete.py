"""Deleting a camera removes its recordings, snapshots and thumbnails from storage, and never exported evidence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from alerts.models import Alert, Detection
from cameras.models import Camera
from cameras.services import camera_delete
from cameras.storage import evidence_key, file_sha256, object_exists, object_put
from community.models import AuditEvent, SharingAgreement, User
from tests.cameras.recorded import segments_stored
from tests.s3 import S3Endpoint

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 64


def _camera_with_everything(*, camera: Camera, agreement: SharingAgreement, tmp_path: Path) -> tuple[list[str], str]:
    """Recordings, a snapshot, a detection thumbnail and an alert snapshot of `camera`, and an exported evidence
    file made from its footage. Returns the camera's object names and the evidence file's."""
    agreement.recording_allowed = True
    agreement.save()
    segments = segments_stored(camera=camera, start=timezone.now() - timedelta(minutes=5), count=2, scratch=tmp_path)
    camera.snapshot.save(f"camera-{camera.pk}.jpg", ContentFile(JPEG))
    detection = Detection(
        camera=camera,
        segment=segments[0],
        at=segments[0].started_at,
        object_class="person",
        confidence=0.9,
        x=0.1,
        y=0.1,
        w=0.2,
        h=0.4,
    )
    detection.thumbnail.save("person.jpg", ContentFile(JPEG))
    alert = Alert(
        camera=camera, kind=Alert.Kind.ZONE, title="Person in Lot", occurred_at=timezone.now(), dedup_key="zone:1"
    )
    alert.snapshot.save("alert.jpg", ContentFile(JPEG))
    exported = tmp_path / "evidence.mp4"
    exported.write_bytes(b"exported evidence")
    evidence = evidence_key(request_id=1, name="2026-000001-camera.mp4")
    object_put(name=evidence, path=exported, sha256=file_sha256(path=exported), content_type="video/mp4")
    names = [s.key for s in segments] + [camera.snapshot.name, detection.thumbnail.name, alert.snapshot.name]
    assert all(object_exists(name=name) for name in [*names, evidence])
    return names, evidence


@pytest.mark.parametrize("store", ["local", "s3"])
def test_deleting_a_camera_removes_its_objects_but_keeps_exported_evidence(
    request: pytest.FixtureRequest,
    store: str,
    alice: User,
    alice_camera: Camera,
    alice_agreement: SharingAgreement,
    tmp_path: Path,
    django_capture_on_commit_callbacks,
) -> None:
    if store == "s3":
        request.getfixturevalue("s3_storage")
    names, evidence = _camera_with_everything(camera=alice_camera, agreement=alice_agreement, tmp_path=tmp_path)

    with django_capture_on_commit_callbacks(execute=True):
        camera_delete(camera=alice_camera, by=alice)

    assert not Camera.objects.filter(pk=alice_camera.pk).exists()
    assert [name for name in names if object_exists(name=name)] == []
    assert object_exists(name=evidence)
    assert AuditEvent.objects.get(action="camera.delete").details["objects"] == len(names)


def test_a_delete_that_is_rolled_back_keeps_the_footage(
    alice: User, alice_camera: Camera, alice_agreement: SharingAgreement, tmp_path: Path, s3_storage: S3Endpoint
) -> None:
    names, _ = _camera_with_everything(camera=alice_camera, agreement=alice_agreement, tmp_path=tmp_path)

    # Without the commit (the request failed after the delete), nothing may have left storage.
    camera_delete(camera=alice_camera, by=alice)

    assert all(object_exists(name=name) for name in names)
