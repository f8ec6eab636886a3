"""Recorded footage and evidence requests in each state, for the playback, storage and evidence pages and API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from cameras import services
from cameras.models import Camera, EvidenceRequest, Segment
from community.models import SharingAgreement, User
from tests.cameras.recorded import segments_stored
from tests.factories import OfficerFactory

PERSONAS = ("alice", "bob", "charlie", "monitor", "supervisor")


@pytest.fixture
def recording(alice_agreement: SharingAgreement) -> SharingAgreement:
    """Alice's live-always terms also allow recording."""
    alice_agreement.recording_allowed = True
    alice_agreement.save()
    return alice_agreement


@pytest.fixture
def footage(recording: SharingAgreement, alice_camera: Camera, tmp_path: Path) -> list[Segment]:
    """Six seconds of Alice's front door, five minutes ago, in the (local) default storage."""
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    return segments_stored(camera=alice_camera, start=start, count=3, scratch=tmp_path)


@pytest.fixture
def other_monitor(agency) -> User:
    return OfficerFactory(email="otto@police.example", full_name="Otto Other", agency=agency)


@pytest.fixture
def pending(recording: SharingAgreement, alice_camera: Camera, monitor: User) -> EvidenceRequest:
    """Monica's request for the last quarter hour of Alice's front door, waiting for Alice."""
    end = timezone.now() - timedelta(minutes=1)
    return services.evidence_request_create(
        by=monitor,
        case_number="2026-001234",
        reason="Armed robbery at the corner store",
        camera_ids=[alice_camera.pk],
        window_start=end - timedelta(minutes=15),
        window_end=end,
    )


@pytest.fixture
def exported(footage: list[Segment], pending: EvidenceRequest, alice: User) -> EvidenceRequest:
    """The same request approved by Alice and exported for real: one MP4 and the signed manifest."""
    services.evidence_request_decide(request=pending, by=alice, approve=True, reason="")
    request = services.evidence_export(request_id=pending.pk, claim="test-export")
    assert request is not None and request.state == EvidenceRequest.State.EXPORTED
    assert request.items.count() == 1
    return request


@pytest.fixture
def failed(pending: EvidenceRequest, alice: User) -> EvidenceRequest:
    """Approved, then the export gave up."""
    services.evidence_request_decide(request=pending, by=alice, approve=True, reason="")
    claimed = services.evidence_export_claim(request_id=pending.pk, claim="test-export")
    assert claimed is not None
    services.evidence_export_failed(request_id=pending.pk, claim="test-export", error="Storage unavailable: refused")
    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.FAILED
    return pending
