"""evidence_request_create: a monitor asks one business for a bounded window of recorded footage."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cameras.models import Camera, EvidenceRequest
from cameras.services import evidence_request_create
from community.models import AuditEvent, Business, SharingAgreement, User
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, SiteFactory


@pytest.fixture
def recording_camera(alice_camera: Camera, alice_agreement: SharingAgreement) -> Camera:
    alice_agreement.recording_allowed = True
    alice_agreement.save()
    return alice_camera


def _window(hours: float = 1.0, *, ended_ago: timedelta = timedelta(minutes=10)) -> tuple[datetime, datetime]:
    end = timezone.now() - ended_ago
    return end - timedelta(hours=hours), end


def _create(by: User, cameras: list[int], **overrides: Any) -> EvidenceRequest:
    start, end = _window()
    arguments: dict[str, Any] = {
        "by": by,
        "case_number": "2026-001234",
        "reason": "Armed robbery at the corner store",
        "camera_ids": cameras,
        "window_start": start,
        "window_end": end,
    }
    arguments.update(overrides)
    return evidence_request_create(**arguments)


def _field_errors(error: pytest.ExceptionInfo[ValidationError]) -> dict[str, Any]:
    return error.value.message_dict


def test_a_monitor_files_a_pending_request_and_the_owner_and_staff_are_emailed(
    recording_camera: Camera, monitor: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = _create(monitor, [recording_camera.pk])

    assert request.state == EvidenceRequest.State.PENDING
    assert request.business == recording_camera.business
    assert list(request.cameras.all()) == [recording_camera]
    assert AuditEvent.objects.filter(action="evidence.create", target_id=str(request.pk)).exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [recording_camera.business.owner.email, bob.email]
    assert "2026-001234" in mail.outbox[0].subject
    assert f"/evidence/{request.pk}/" in mail.outbox[0].body


def test_preapproved_terms_approve_the_request_at_once(
    recording_camera: Camera, alice_agreement: SharingAgreement, monitor: User
) -> None:
    alice_agreement.evidence_preapproved = True
    alice_agreement.save()

    request = _create(monitor, [recording_camera.pk])

    assert request.state == EvidenceRequest.State.APPROVED
    assert request.preapproved_by == alice_agreement
    assert AuditEvent.objects.filter(action="evidence.approve", target_id=str(request.pk), actor=None).exists()


def test_an_owner_cannot_file_a_request(recording_camera: Camera, alice: User) -> None:
    with pytest.raises(PermissionDenied):
        _create(alice, [recording_camera.pk])

    assert not EvidenceRequest.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"case_number": ""}, "case_number"),
        ({"case_number": "robbery"}, "case_number"),
        ({"reason": "  "}, "reason"),
        (
            {"window_start": timezone.now() - timedelta(hours=1), "window_end": timezone.now() - timedelta(hours=2)},
            "window_end",
        ),
        (
            {"window_start": timezone.now() - timedelta(hours=14), "window_end": timezone.now() - timedelta(hours=1)},
            "window_end",
        ),
        ({"window_start": timezone.now(), "window_end": timezone.now() + timedelta(hours=2)}, "window_end"),
        ({"camera_ids": []}, "camera_ids"),
    ],
    ids=["no case number", "malformed case number", "no reason", "reversed", "too long", "in the future", "no camera"],
)
def test_bad_input_is_refused_and_nothing_is_created(
    recording_camera: Camera, monitor: User, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        _create(monitor, [recording_camera.pk], **overrides)

    assert field in _field_errors(error)
    assert not EvidenceRequest.objects.exists()


def test_the_longest_window_is_a_setting(recording_camera: Camera, monitor: User, settings: Any) -> None:
    settings.EVIDENCE_MAX_WINDOW_HOURS = 24
    start, end = _window(hours=20)

    request = _create(monitor, [recording_camera.pk], window_start=start, window_end=end)

    assert request.window_end - request.window_start == timedelta(hours=20)


def test_a_camera_that_does_not_record_is_refused(alice_camera: Camera, monitor: User) -> None:
    with pytest.raises(ValidationError) as error:
        _create(monitor, [alice_camera.pk])

    assert "do not allow recording" in _field_errors(error)["camera_ids"][0]
    assert not EvidenceRequest.objects.exists()


def test_a_camera_the_monitor_cannot_see_is_no_such_camera(monitor: User, charlie: User) -> None:
    business = BusinessFactory(owner=charlie, state=Business.State.PENDING)
    hidden = CameraFactory(
        site=SiteFactory(business=business), agreement=AgreementFactory(business=business, recording_allowed=True)
    )

    with pytest.raises(ValidationError) as error:
        _create(monitor, [hidden.pk])

    assert _field_errors(error)["camera_ids"] == [f"No such camera: {hidden.pk}."]
    assert not EvidenceRequest.objects.exists()


def test_cameras_of_two_businesses_need_two_requests(
    recording_camera: Camera, charlie_camera: Camera, monitor: User
) -> None:
    charlie_agreement = charlie_camera.agreement
    assert charlie_agreement is not None
    charlie_agreement.recording_allowed = True
    charlie_agreement.save()

    with pytest.raises(ValidationError) as error:
        _create(monitor, [recording_camera.pk, charlie_camera.pk])

    assert "one request per business" in _field_errors(error)["camera_ids"][0]
    assert not EvidenceRequest.objects.exists()
