"""Submitting an enrolment: once, with cameras and terms, and nothing half-done on refusal."""

import pytest
from django.core.exceptions import ValidationError

from community.models import AuditEvent, Business, SharingAgreement
from community.services import agreement_create, business_submit
from tests.factories import BusinessFactory, CameraFactory, SiteFactory


@pytest.fixture
def draft(alice):
    business = BusinessFactory(owner=alice, state=Business.State.DRAFT)
    CameraFactory(site=SiteFactory(business=business))
    return business


def test_submit_moves_the_business_and_its_draft_terms_to_pending(draft, alice):
    agreement = agreement_create(business=draft, by=alice, name="Terms", mode="always", terms_accepted=True)
    assert agreement.state == SharingAgreement.State.DRAFT
    business_submit(business=draft, by=alice)
    draft.refresh_from_db()
    agreement.refresh_from_db()
    assert (draft.state, agreement.state) == (Business.State.PENDING, SharingAgreement.State.PENDING)
    assert AuditEvent.objects.filter(action="business.submit", business_id=draft.pk).count() == 1


def test_a_second_submit_is_refused_with_a_clear_message(draft, alice):
    agreement_create(business=draft, by=alice, name="Terms", mode="always", terms_accepted=True)
    business_submit(business=draft, by=alice)
    with pytest.raises(ValidationError, match="already been submitted"):
        business_submit(business=draft, by=alice)
    assert AuditEvent.objects.filter(action="business.submit").count() == 1


def test_submit_without_terms_is_refused_and_changes_nothing(draft, alice):
    with pytest.raises(ValidationError, match="sharing terms"):
        business_submit(business=draft, by=alice)
    draft.refresh_from_db()
    assert draft.state == Business.State.DRAFT


def test_submit_without_cameras_is_refused(alice):
    business = BusinessFactory(owner=alice, state=Business.State.DRAFT)
    with pytest.raises(ValidationError, match="camera"):
        business_submit(business=business, by=alice)
