"""evidence_download_url and evidence_export_retry refuse people outside the request, whatever calls them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cameras.models import Camera, EvidenceRequest
from cameras.services import (
    evidence_download_url,
    evidence_export,
    evidence_export_retry,
    evidence_manifest_url,
    evidence_request_create,
    evidence_request_decide,
)
from community.models import AuditEvent, SharingAgreement, User
from tests.cameras.recorded import segments_stored


@pytest.fixture
def request_approved(
    alice_camera: Camera, alice_agreement: SharingAgreement, monitor: User, alice: User, tmp_path: Path
) -> EvidenceRequest:
    alice_agreement.recording_allowed = True
    alice_agreement.save()
    footage = segments_stored(camera=alice_camera, start=timezone.now() - timedelta(hours=1), count=2, scratch=tmp_path)
    request = evidence_request_create(
        by=monitor,
        case_number="2026-000555",
        reason="Carjacking",
        camera_ids=[alice_camera.pk],
        window_start=footage[0].started_at,
        window_end=footage[-1].ended_at,
    )
    return evidence_request_decide(request=request, by=alice, approve=True, reason="")


@pytest.fixture
def exported(request_approved: EvidenceRequest) -> EvidenceRequest:
    request = evidence_export(request_id=request_approved.pk, claim="task-1")
    assert request is not None
    return request


@pytest.mark.parametrize("persona", ["monitor", "alice", "bob", "supervisor"])
def test_people_of_the_request_get_a_link_and_leave_a_trace(
    exported: EvidenceRequest, persona: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)

    url = evidence_download_url(item=exported.items.get(), by=user)

    assert url
    assert AuditEvent.objects.filter(action="evidence.download", actor=user, target_id=str(exported.pk)).count() == 1


@pytest.mark.parametrize("persona", ["charlie", "other_monitor"])
def test_nobody_else_gets_a_link(
    exported: EvidenceRequest, persona: str, request: pytest.FixtureRequest, agency
) -> None:
    from tests.factories import OfficerFactory

    user = (
        OfficerFactory(email="otto@police.example", agency=agency)
        if persona == "other_monitor"
        else request.getfixturevalue(persona)
    )

    with pytest.raises(PermissionDenied):
        evidence_download_url(item=exported.items.get(), by=user)
    with pytest.raises(PermissionDenied):
        evidence_manifest_url(request=exported, by=user)
    assert not AuditEvent.objects.filter(action="evidence.download").exists()


def test_there_is_no_manifest_link_before_the_export(request_approved: EvidenceRequest, monitor: User) -> None:
    with pytest.raises(ValidationError):
        evidence_manifest_url(request=request_approved, by=monitor)


def test_only_the_requester_or_a_supervisor_may_retry_a_failed_export(
    request_approved: EvidenceRequest, alice: User, monitor: User, supervisor: User
) -> None:
    EvidenceRequest.objects.filter(pk=request_approved.pk).update(state=EvidenceRequest.State.FAILED)

    with pytest.raises(PermissionDenied):
        evidence_export_retry(request=request_approved, by=alice)
    assert evidence_export_retry(request=request_approved, by=supervisor).state == EvidenceRequest.State.APPROVED
