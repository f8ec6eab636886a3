"""evidence_request_decide: the owner approves or denies; nobody else can, and only once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cameras.models import Camera, EvidenceRequest
from cameras.services import evidence_request_create, evidence_request_decide
from community.models import AuditEvent, SharingAgreement, User


@pytest.fixture
def pending(alice_camera: Camera, alice_agreement: SharingAgreement, monitor: User) -> EvidenceRequest:
    alice_agreement.recording_allowed = True
    alice_agreement.save()
    end = timezone.now() - timedelta(minutes=5)
    return evidence_request_create(
        by=monitor,
        case_number="2026-000777",
        reason="Hit and run outside the store",
        camera_ids=[alice_camera.pk],
        window_start=end - timedelta(minutes=30),
        window_end=end,
    )


def test_the_owner_approves_and_the_export_is_queued(
    pending: EvidenceRequest, alice: User, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr("cameras.tasks.evidence_export_task.delay", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        request = evidence_request_decide(request=pending, by=alice, approve=True, reason="")

    assert request.state == EvidenceRequest.State.APPROVED
    assert request.decided_by == alice and request.decided_at is not None
    assert queued == [pending.pk]
    assert AuditEvent.objects.filter(action="evidence.approve", actor=alice, target_id=str(pending.pk)).exists()
    assert mail.outbox[-1].to == [pending.requested_by.email]


def test_her_staff_may_answer_for_the_business(pending: EvidenceRequest, bob: User) -> None:
    request = evidence_request_decide(request=pending, by=bob, approve=False, reason="Camera faces a clinic")

    assert request.state == EvidenceRequest.State.DENIED
    assert request.decision_reason == "Camera faces a clinic"


@pytest.mark.parametrize("persona", ["charlie", "monitor", "supervisor"])
def test_nobody_else_can_answer(pending: EvidenceRequest, persona: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(PermissionDenied):
        evidence_request_decide(request=pending, by=request.getfixturevalue(persona), approve=True, reason="")

    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.PENDING
    assert not AuditEvent.objects.filter(action__in=["evidence.approve", "evidence.deny"]).exists()


def test_a_denial_needs_a_reason(pending: EvidenceRequest, alice: User) -> None:
    with pytest.raises(ValidationError) as error:
        evidence_request_decide(request=pending, by=alice, approve=False, reason=" ")

    assert "reason" in error.value.message_dict
    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.PENDING


def test_the_first_answer_stands(pending: EvidenceRequest, alice: User, bob: User) -> None:
    evidence_request_decide(request=pending, by=alice, approve=False, reason="Not this camera")

    with pytest.raises(ValidationError) as error:
        evidence_request_decide(request=pending, by=bob, approve=True, reason="")

    assert error.value.code == "conflict"
    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.DENIED
