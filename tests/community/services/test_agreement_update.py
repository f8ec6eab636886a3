"""Changing terms asks for acceptance again, bumps the version and keeps the old terms in the trail."""

import pytest
from django.core.exceptions import ValidationError

from community.models import AuditEvent, SharingAgreement
from community.services import agreement_create, agreement_revoke, agreement_update


def test_changing_terms_needs_acceptance_again(alice_agreement, alice):
    with pytest.raises(ValidationError, match="Accept"):
        agreement_update(agreement=alice_agreement, by=alice, terms_accepted=False, mode="registry")
    alice_agreement.refresh_from_db()
    assert (alice_agreement.mode, alice_agreement.version) == ("always", 1)


def test_accepted_change_bumps_the_version_and_records_before_and_after(alice_agreement, alice):
    agreement_update(
        agreement=alice_agreement,
        by=alice,
        terms_accepted=True,
        mode="schedule",
        schedule={"mon": [["08:00", "18:00"]]},
    )
    alice_agreement.refresh_from_db()
    assert (alice_agreement.mode, alice_agreement.version) == ("schedule", 2)
    event = AuditEvent.objects.get(action="agreement.update")
    assert event.details["before"]["mode"] == "always"
    assert event.details["after"]["schedule"] == {"mon": [["08:00", "18:00"]]}


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"funday": [["08:00", "09:00"]]}, "not a weekday"),
        ({"mon": [["25:00", "09:00"]]}, "not a time"),
        ({"mon": [["08:00", "08:00"]]}, "same time"),
        ({"mon": "all day"}, "list"),
        ({}, "at least one day"),
    ],
)
def test_malformed_schedules_are_refused(alice_business, alice, schedule, message):
    with pytest.raises(ValidationError, match=message):
        agreement_create(
            business=alice_business, by=alice, name="S", mode="schedule", schedule=schedule, terms_accepted=True
        )
    assert not SharingAgreement.objects.filter(name="S").exists()


@pytest.mark.parametrize("days", [0, 91])
def test_retention_outside_1_to_90_days_is_refused(alice_business, alice, days):
    with pytest.raises(ValidationError):
        agreement_create(
            business=alice_business, by=alice, name="R", mode="always", retention_days=days, terms_accepted=True
        )
    assert not SharingAgreement.objects.filter(name="R").exists()


def test_duplicate_names_are_refused_whatever_the_case(alice_agreement, alice):
    with pytest.raises(ValidationError, match="already has"):
        agreement_create(
            business=alice_agreement.business,
            by=alice,
            name=alice_agreement.name.upper(),
            mode="always",
            terms_accepted=True,
        )


def test_revoking_is_immediate_and_recorded(alice_camera, alice, monitor):
    from cameras.selectors import cameras_visible_to

    assert cameras_visible_to(monitor).count() == 1
    agreement_revoke(agreement=alice_camera.agreement, by=alice, reason="Closing the shop")
    assert not cameras_visible_to(monitor).exists()
    event = AuditEvent.objects.get(action="agreement.revoke")
    assert event.details == {"reason": "Closing the shop", "cameras": [alice_camera.pk]}


def test_revoked_terms_cannot_be_changed(alice_agreement, alice):
    agreement_revoke(agreement=alice_agreement, by=alice)
    with pytest.raises(ValidationError, match="Revoked"):
        agreement_update(agreement=alice_agreement, by=alice, terms_accepted=True, mode="always")
