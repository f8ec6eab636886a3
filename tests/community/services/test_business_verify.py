"""Supervisors verify and suspend partners with a reason; agreements follow the partner's state."""

import pytest
from django.core.exceptions import ValidationError

from cameras.selectors import cameras_visible_to
from community.models import AuditEvent, Business, SharingAgreement
from community.services import business_suspend, business_verify
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, SiteFactory


@pytest.fixture
def pending(alice):
    business = BusinessFactory(owner=alice, state=Business.State.PENDING)
    agreement = AgreementFactory(business=business, state=SharingAgreement.State.PENDING)
    CameraFactory(site=SiteFactory(business=business), agreement=agreement)
    return business


def test_verifying_activates_the_terms_and_monitors_then_see_the_cameras(pending, supervisor, monitor):
    assert not cameras_visible_to(monitor).exists()
    business_verify(business=pending, by=supervisor, reason="Met the owner, checked the lease.")
    pending.refresh_from_db()
    assert pending.state == Business.State.VERIFIED
    assert pending.verified_by == supervisor
    assert set(pending.agreements.values_list("state", flat=True)) == {SharingAgreement.State.ACTIVE}
    assert cameras_visible_to(monitor).count() == 1
    event = AuditEvent.objects.get(action="partner.verify")
    assert event.details == {"reason": "Met the owner, checked the lease."}


def test_verifying_needs_a_reason(pending, supervisor):
    with pytest.raises(ValidationError):
        business_verify(business=pending, by=supervisor, reason="  ")
    pending.refresh_from_db()
    assert pending.state == Business.State.PENDING


@pytest.mark.parametrize("persona", ["alice", "monitor"])
def test_only_supervisors_verify(request, pending, persona):
    with pytest.raises(PermissionError):
        business_verify(business=pending, by=request.getfixturevalue(persona), reason="ok")


def test_suspending_hides_the_cameras_from_monitors_and_reinstating_restores_them(
    alice_camera, alice_business, supervisor, monitor
):
    business_suspend(business=alice_business, by=supervisor, reason="Owner reported the camera stolen.")
    assert not cameras_visible_to(monitor).exists()
    alice_camera.agreement.refresh_from_db()
    assert alice_camera.agreement.state == SharingAgreement.State.SUSPENDED
    business_verify(business=alice_business, by=supervisor, reason="Camera recovered.")
    assert cameras_visible_to(monitor).count() == 1
    assert AuditEvent.objects.filter(action="partner.reinstate").exists()


def test_revoked_terms_stay_revoked_when_a_partner_is_reinstated(alice_camera, alice_business, alice, supervisor):
    from community.services import agreement_revoke

    agreement_revoke(agreement=alice_camera.agreement, by=alice)
    business_suspend(business=alice_business, by=supervisor, reason="r")
    business_verify(business=alice_business, by=supervisor, reason="r")
    alice_camera.agreement.refresh_from_db()
    assert alice_camera.agreement.state == SharingAgreement.State.REVOKED


def test_a_draft_cannot_be_verified(alice, supervisor):
    with pytest.raises(ValidationError):
        business_verify(business=BusinessFactory(owner=alice, state="draft"), by=supervisor, reason="r")
