"""The beat tasks of recording and evidence: retention, and exports whose worker or message was lost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from cameras import tasks
from cameras.models import Camera, EvidenceRequest, Segment
from community.models import SharingAgreement, User
from tests.cameras.recorded import segments_stored


def _request(
    camera: Camera, *, by: User, state: str, updated_ago: timedelta, claimed_ago: timedelta | None = None
) -> EvidenceRequest:
    request = EvidenceRequest.objects.create(
        business=camera.business,
        case_number="2026-000123",
        reason="Assault",
        window_start=timezone.now() - timedelta(hours=2),
        window_end=timezone.now() - timedelta(hours=1),
        requested_by=by,
        state=state,
        export_claimed_at=timezone.now() - claimed_ago if claimed_ago else None,
    )
    EvidenceRequest.objects.filter(pk=request.pk).update(updated_at=timezone.now() - updated_ago)
    return request


def test_the_retention_task_deletes_expired_segments(
    alice_camera: Camera, alice_agreement: SharingAgreement, tmp_path: Path
) -> None:
    alice_agreement.recording_allowed = True
    alice_agreement.retention_days = 1
    alice_agreement.save()
    segments_stored(camera=alice_camera, start=timezone.now() - timedelta(days=2), count=2, scratch=tmp_path)

    assert tasks.segments_expire_task() == 2
    assert not Segment.objects.exists()


def test_resume_queues_exports_left_approved_or_whose_lease_ran_out(
    alice_camera: Camera, monitor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.evidence_export_task, "delay", queued.append)
    lost = _request(alice_camera, by=monitor, state="approved", updated_ago=timedelta(minutes=10))
    dead = _request(
        alice_camera, by=monitor, state="exporting", updated_ago=timedelta(hours=1), claimed_ago=timedelta(hours=1)
    )
    _request(alice_camera, by=monitor, state="approved", updated_ago=timedelta(seconds=5))
    _request(
        alice_camera, by=monitor, state="exporting", updated_ago=timedelta(minutes=1), claimed_ago=timedelta(minutes=1)
    )
    _request(alice_camera, by=monitor, state="pending", updated_ago=timedelta(days=1))

    assert tasks.evidence_exports_resume() == 2
    assert sorted(queued) == sorted([lost.pk, dead.pk])
