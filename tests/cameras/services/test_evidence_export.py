"""evidence_export: one claim at a time, one MP4 per camera with its hash, write-once, a signed manifest."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from django.utils import timezone

from cameras.manifest import manifest_signature_valid
from cameras.models import Camera, EvidenceItem, EvidenceRequest, Segment
from cameras.services import evidence_export, evidence_export_claim, evidence_request_create, evidence_request_decide
from cameras.storage import object_open
from community.models import AuditEvent, SharingAgreement, User
from tests.cameras.recorded import segments_stored
from tests.s3 import S3Endpoint


@pytest.fixture
def footage(alice_camera: Camera, alice_agreement: SharingAgreement, tmp_path: Path) -> list[Segment]:
    alice_agreement.recording_allowed = True
    alice_agreement.save()
    return segments_stored(
        camera=alice_camera, start=timezone.now() - timedelta(minutes=30), count=4, seconds=2, scratch=tmp_path
    )


@pytest.fixture
def approved(footage: list[Segment], alice_camera: Camera, monitor: User, alice: User) -> EvidenceRequest:
    request = evidence_request_create(
        by=monitor,
        case_number="2026-004242",
        reason="Shots fired on Main Street",
        camera_ids=[alice_camera.pk],
        window_start=footage[1].started_at + timedelta(seconds=1),
        window_end=footage[2].ended_at - timedelta(seconds=1),
    )
    # The test runs the export itself, as the worker would; approving queues it only after commit.
    return evidence_request_decide(request=request, by=alice, approve=True, reason="")


def _read(name: str) -> bytes:
    with object_open(name=name) as f:
        return f.read()


def test_it_exports_the_segments_of_the_window_into_one_mp4_with_its_hash(
    approved: EvidenceRequest, footage: list[Segment], tmp_path: Path
) -> None:
    request = evidence_export(request_id=approved.pk, claim="task-1")

    assert request is not None and request.state == EvidenceRequest.State.EXPORTED
    item = request.items.get()
    data = _read(item.key)
    assert hashlib.sha256(data).hexdigest() == item.sha256
    assert item.key.startswith(f"evidence/request-{approved.pk}/")
    assert [s["key"] for s in item.sources] == [footage[1].key, footage[2].key]
    assert [s["sha256"] for s in item.sources] == [footage[1].sha256, footage[2].sha256]
    (tmp_path / "out.mp4").write_bytes(data)
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 40  # two segments of 2 s at 10 fps, whole


def test_the_manifest_names_the_request_approval_and_every_source_and_its_signature_holds(
    approved: EvidenceRequest, alice: User
) -> None:
    request = evidence_export(request_id=approved.pk, claim="task-1")
    assert request is not None

    data = _read(request.manifest_key)
    manifest = json.loads(data)
    assert hashlib.sha256(data).hexdigest() == request.manifest_sha256
    assert manifest_signature_valid(data=data, signature=request.manifest_signature)
    assert manifest["request"]["case_number"] == "2026-004242"
    assert manifest["approvals"][0]["by"] == alice.email
    assert manifest["items"][0]["sha256"] == request.items.get().sha256
    assert len(manifest["items"][0]["sources"]) == 2


def test_it_is_stored_under_object_lock_where_the_bucket_has_it(
    s3_storage: S3Endpoint, approved: EvidenceRequest
) -> None:
    request = evidence_export(request_id=approved.pk, claim="task-1")
    assert request is not None

    item = request.items.get()
    head = s3_storage.client().head_object(Bucket=s3_storage.bucket, Key=item.key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > timezone.now() + timedelta(days=300)
    assert head["Metadata"]["sha256"] == item.sha256
    assert item.locked_until is not None


def test_a_second_worker_cannot_claim_an_export_under_way(approved: EvidenceRequest) -> None:
    assert evidence_export_claim(request_id=approved.pk, claim="task-1") is not None

    assert evidence_export(request_id=approved.pk, claim="task-2") is None
    approved.refresh_from_db()
    assert approved.state == EvidenceRequest.State.EXPORTING and approved.export_claim == "task-1"


def test_the_same_task_delivered_again_takes_its_export_back(approved: EvidenceRequest) -> None:
    assert evidence_export_claim(request_id=approved.pk, claim="task-1") is not None

    request = evidence_export(request_id=approved.pk, claim="task-1")

    assert request is not None and request.state == EvidenceRequest.State.EXPORTED
    assert request.export_attempts == 2


def test_a_dead_workers_export_is_taken_over_after_its_lease(approved: EvidenceRequest, settings: Any) -> None:
    assert evidence_export_claim(request_id=approved.pk, claim="task-1") is not None
    EvidenceRequest.objects.filter(pk=approved.pk).update(export_claimed_at=timezone.now() - timedelta(hours=2))

    request = evidence_export(request_id=approved.pk, claim="task-2")

    assert request is not None and request.state == EvidenceRequest.State.EXPORTED


def test_an_export_is_done_once(approved: EvidenceRequest) -> None:
    evidence_export(request_id=approved.pk, claim="task-1")

    assert evidence_export(request_id=approved.pk, claim="task-1") is None
    assert EvidenceItem.objects.count() == 1
    assert AuditEvent.objects.filter(action="evidence.export").count() == 1


def test_a_pending_or_denied_request_is_never_exported(
    footage: list[Segment], alice_camera: Camera, monitor: User
) -> None:
    request = evidence_request_create(
        by=monitor,
        case_number="2026-000001",
        reason="Burglary",
        camera_ids=[alice_camera.pk],
        window_start=footage[0].started_at,
        window_end=footage[-1].ended_at,
    )

    assert evidence_export(request_id=request.pk, claim="task-1") is None
    request.refresh_from_db()
    assert request.state == EvidenceRequest.State.PENDING
