"""Businesses, sites and sharing terms through the API: what each write accepts, and what it refuses untouched."""

from __future__ import annotations

import pytest

from community.models import AuditEvent, Business, SharingAgreement, Site
from tests.factories import SiteFactory

SITE = {"name": "Back lot", "address": "3 Woodward Ave", "latitude": "42.3", "longitude": "-83.0"}


@pytest.fixture
def owner(client_as, alice):
    return client_as("alice")


def _counts():
    return (
        Business.objects.count(),
        Site.objects.count(),
        SharingAgreement.objects.count(),
        AuditEvent.objects.count(),
    )


# ---------------------------------------------------------------- businesses


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "alice's MARKET"}, {"name": ["You already have a business with this name."]}),
        ({"name": "x" * 121}, {"name": ["Ensure this value has at most 120 characters (it has 121)."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"contact_email": "not-an-address"}, {"contact_email": ["Enter a valid email address."]}),
        ({"contact_name": None}, {"contact_name": ["This field may not be null."]}),
    ],
)
def test_a_bad_business_is_refused_and_nothing_is_saved(owner, alice_business, fields, expected):
    before = _counts()

    response = owner.post(
        "/api/businesses/",
        {"name": "Second Shop", "contact_name": "Alice", "contact_email": "alice@example.com", **fields},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == expected
    assert _counts() == before


def test_another_owner_may_use_the_same_business_name(client_as, alice_business):
    response = client_as("charlie").post(
        "/api/businesses/",
        {"name": "ALICE'S MARKET", "contact_name": "Charlie", "contact_email": "charlie@example.com"},
        format="json",
    )

    assert response.status_code == 201


@pytest.mark.parametrize("persona", ["monitor", "supervisor"])
def test_police_do_not_enrol_businesses(client_as, persona):
    response = client_as(persona).post(
        "/api/businesses/", {"name": "Precinct", "contact_name": "X", "contact_email": "x@example.com"}, format="json"
    )

    assert response.status_code == 403
    assert not Business.objects.exists()


def test_staff_update_the_business_contact(client_as, alice_business):
    response = client_as("bob").patch(
        f"/api/businesses/{alice_business.pk}/", {"contact_phone": "+1 313 555 0111"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["contact_phone"] == "+1 313 555 0111"
    assert AuditEvent.objects.filter(action="business.update", business_id=alice_business.pk).exists()


def test_a_business_rename_to_a_taken_name_is_refused(owner, alice, alice_business):
    other = owner.post(
        "/api/businesses/", {"name": "Bakery", "contact_name": "A", "contact_email": "a@example.com"}, format="json"
    )

    response = owner.patch(f"/api/businesses/{other.json()['id']}/", {"name": "ALICE'S market"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"name": ["You already have a business with this name."]}
    assert Business.objects.get(pk=other.json()["id"]).name == "Bakery"


def test_the_business_list_filters_by_state(client_as, alice_business, charlie_camera):
    Business.objects.filter(pk=alice_business.pk).update(state=Business.State.PENDING)

    response = client_as("supervisor").get("/api/businesses/?state=pending")

    assert [row["id"] for row in response.json()["results"]] == [alice_business.pk]


# ---------------------------------------------------------------- sites


def test_an_owner_adds_a_site(owner, alice_business):
    response = owner.post("/api/sites/", {"business": alice_business.pk, **SITE}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["business"], body["name"], body["timezone"], body["listed_publicly"]) == (
        alice_business.pk,
        "Back lot",
        "America/Detroit",
        False,
    )
    assert (body["latitude"], body["longitude"]) == (42.3, -83.0)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"latitude": "91"}, {"latitude": ["Latitude must be between -90 and 90."]}),
        ({"latitude": -90.5}, {"latitude": ["Latitude must be between -90 and 90."]}),
        ({"longitude": "-181"}, {"longitude": ["Longitude must be between -180 and 180."]}),
        ({"longitude": "1e9"}, {"longitude": ["Longitude must be between -180 and 180."]}),
        ({"latitude": "north"}, {"latitude": ["A valid number is required."]}),
        (
            {"timezone": "Mars/Olympus_Mons"},
            {"timezone": ["“Mars/Olympus_Mons” is not a time zone name such as America/Detroit."]},
        ),
        ({"name": "MAIN street"}, {"name": ["This business already has a site with this name."]}),
        ({"name": "y" * 121}, {"name": ["Ensure this value has at most 120 characters (it has 121)."]}),
        ({"address": ""}, {"address": ["This field may not be blank."]}),
    ],
)
def test_a_bad_site_is_refused_with_a_clear_message_and_nothing_is_saved(owner, alice_site, fields, expected):
    before = _counts()

    response = owner.post("/api/sites/", {"business": alice_site.business_id, **SITE, **fields}, format="json")

    assert response.status_code == 400
    assert response.json() == expected
    assert _counts() == before


def test_a_site_for_a_missing_business_is_404(owner):
    response = owner.post("/api/sites/", {"business": 999999, **SITE}, format="json")

    assert response.status_code == 404


def test_a_site_needs_to_name_its_business(owner):
    response = owner.post("/api/sites/", SITE, format="json")

    assert response.status_code == 400
    assert response.json() == {"business": ["This field is required."]}


def test_an_owner_moves_a_site(owner, alice_site):
    response = owner.patch(
        f"/api/sites/{alice_site.pk}/",
        {"latitude": "42.1", "longitude": "-83.2", "listed_publicly": True},
        format="json",
    )

    assert response.status_code == 200
    alice_site.refresh_from_db()
    assert (str(alice_site.latitude), str(alice_site.longitude), alice_site.listed_publicly) == (
        "42.100000",
        "-83.200000",
        True,
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"latitude": "91"}, {"latitude": ["Latitude must be between -90 and 90."]}),
        ({"timezone": "Detroit"}, {"timezone": ["“Detroit” is not a time zone name such as America/Detroit."]}),
        ({"name": "second"}, {"name": ["This business already has a site with this name."]}),
    ],
)
def test_a_bad_site_change_is_refused_and_the_site_is_unchanged(owner, alice_site, fields, expected):
    SiteFactory(business=alice_site.business, name="Second")
    before = Site.objects.filter(pk=alice_site.pk).values().get()

    response = owner.patch(f"/api/sites/{alice_site.pk}/", fields, format="json")

    assert response.status_code == 400
    assert response.json() == expected
    assert Site.objects.filter(pk=alice_site.pk).values().get() == before


def test_the_site_list_filters_by_business(client_as, alice_site, charlie_camera):
    response = client_as("supervisor").get(f"/api/sites/?business={alice_site.business_id}")

    assert [row["id"] for row in response.json()["results"]] == [alice_site.pk]


# ---------------------------------------------------------------- sharing terms


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"terms_accepted": False}, {"terms_accepted": ["Accept the sharing terms to continue."]}),
        ({}, {"terms_accepted": ["Accept the sharing terms to continue."]}),
        (
            {"terms_accepted": True, "mode": "schedule"},
            {"schedule": ["Choose at least one day and time window for scheduled sharing."]},
        ),
        (
            {"terms_accepted": True, "mode": "schedule", "schedule": {"funday": [["08:00", "09:00"]]}},
            {"schedule": ["“funday” is not a weekday; use mon, tue, wed, thu, fri, sat, sun."]},
        ),
        (
            {"terms_accepted": True, "mode": "schedule", "schedule": {"mon": [["25:00", "09:00"]]}},
            {"schedule": ["mon: “25:00” is not a time like 08:30."]},
        ),
        (
            {"terms_accepted": True, "retention_days": 365},
            {"retention_days": ["Ensure this value is less than or equal to 90."]},
        ),
        (
            {"terms_accepted": True, "name": "STOREFRONT, LIVE ALWAYS"},
            {"name": ["This business already has sharing terms with this name."]},
        ),
        ({"terms_accepted": True, "mode": "forever"}, {"mode": ['"forever" is not a valid choice.']}),
        ({"terms_accepted": True, "camera_ids": [999999]}, {"camera_ids": ["Choose cameras of this business."]}),
    ],
)
def test_bad_sharing_terms_are_refused_and_nothing_is_saved(owner, alice_agreement, fields, expected):
    before = _counts()

    response = owner.post(
        "/api/agreements/",
        {"business": alice_agreement.business_id, "name": "Night", "mode": "always", **fields},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == expected
    assert _counts() == before


def test_terms_cannot_take_another_owners_cameras(owner, alice_business, charlie_camera):
    response = owner.post(
        "/api/agreements/",
        {
            "business": alice_business.pk,
            "name": "Grab",
            "mode": "always",
            "terms_accepted": True,
            "camera_ids": [charlie_camera.pk],
        },
        format="json",
    )

    assert response.status_code == 400
    charlie_camera.refresh_from_db()
    assert charlie_camera.agreement.business_id != alice_business.pk


def test_changing_terms_asks_for_them_to_be_accepted_again(owner, alice_agreement):
    refused = owner.patch(f"/api/agreements/{alice_agreement.pk}/", {"retention_days": 7}, format="json")

    assert refused.status_code == 400
    assert refused.json() == {"terms_accepted": ["Accept the sharing terms to continue."]}
    alice_agreement.refresh_from_db()
    assert (alice_agreement.retention_days, alice_agreement.version) == (30, 1)

    accepted = owner.patch(
        f"/api/agreements/{alice_agreement.pk}/", {"retention_days": 7, "terms_accepted": True}, format="json"
    )

    assert accepted.status_code == 200
    assert (accepted.json()["retention_days"], accepted.json()["version"]) == (7, 2)


def test_revoked_terms_cannot_be_changed(owner, alice_agreement):
    owner.post(f"/api/agreements/{alice_agreement.pk}/revoke/", {}, format="json")

    response = owner.patch(
        f"/api/agreements/{alice_agreement.pk}/", {"mode": "registry", "terms_accepted": True}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Revoked terms cannot be changed; create new sharing terms instead."}


def test_revoking_twice_is_harmless(owner, alice_agreement):
    first = owner.post(f"/api/agreements/{alice_agreement.pk}/revoke/", {"reason": "Closing"}, format="json")
    second = owner.post(f"/api/agreements/{alice_agreement.pk}/revoke/", {"reason": "Again"}, format="json")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["state_reason"] == "Closing"
    assert AuditEvent.objects.filter(action="agreement.revoke").count() == 1


def test_the_terms_list_filters_by_business_and_state(client_as, alice_agreement, charlie_camera):
    supervisor = client_as("supervisor")

    by_business = supervisor.get(f"/api/agreements/?business={alice_agreement.business_id}").json()["results"]
    revoked = supervisor.get("/api/agreements/?state=revoked").json()["results"]

    assert [row["id"] for row in by_business] == [alice_agreement.pk]
    assert revoked == []
