"""The whole enrolment through the API: business, site, camera, terms, submission, verification, revocation."""

from __future__ import annotations

from community.models import AuditEvent, Business, SharingAgreement


def test_an_owner_enrols_a_partner_that_a_supervisor_verifies_and_a_monitor_then_sees(client_as, alice):
    owner, supervisor, monitor = client_as("alice"), client_as("supervisor"), client_as("monitor")

    business = owner.post(
        "/api/businesses/",
        {"name": "Corner Store", "contact_name": "Alice Owner", "contact_email": "alice@example.com"},
        format="json",
    )
    assert business.status_code == 201, business.content
    assert business.json()["state"] == "draft"
    business_id = business.json()["id"]
    site = owner.post(
        "/api/sites/",
        {
            "business": business_id,
            "name": "Corner",
            "address": "100 Gratiot Ave, Detroit",
            "latitude": 42.3359123456,
            "longitude": "-83.0437",
            "timezone": "America/Detroit",
            "listed_publicly": True,
        },
        format="json",
    )
    assert site.status_code == 201, site.content
    assert (site.json()["latitude"], site.json()["longitude"]) == (42.335912, -83.0437)
    camera = owner.post(
        "/api/cameras/",
        {"site": site.json()["id"], "name": "Entrance", "stream_url": "rtsp://127.0.0.1:1/entrance"},
        format="json",
    )
    assert camera.status_code == 201, camera.content
    camera_id = camera.json()["id"]
    terms = owner.post(
        "/api/agreements/",
        {
            "business": business_id,
            "name": "Business hours",
            "mode": "schedule",
            "schedule": {"mon": [["08:00", "18:00"]], "sat": [["22:00", "02:00"]]},
            "recording_allowed": True,
            "retention_days": 14,
            "camera_ids": [camera_id],
            "terms_accepted": True,
        },
        format="json",
    )
    assert terms.status_code == 201, terms.content
    assert terms.json()["state"] == "draft"
    assert terms.json()["camera_ids"] == [camera_id]
    agreement_id = terms.json()["id"]
    # Nothing is visible to the police until the partner is submitted, and then only to supervisors.
    assert supervisor.get(f"/api/businesses/{business_id}/").status_code == 404
    assert monitor.get(f"/api/cameras/{camera_id}/").status_code == 404

    submitted = owner.post(f"/api/businesses/{business_id}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["state"] == "pending"
    again = owner.post(f"/api/businesses/{business_id}/submit/")
    assert again.status_code == 400
    assert again.json() == {"detail": "This business has already been submitted."}
    assert owner.get(f"/api/agreements/{agreement_id}/").json()["state"] == "pending"
    assert monitor.get(f"/api/cameras/{camera_id}/").status_code == 404
    assert supervisor.get(f"/api/cameras/{camera_id}/").status_code == 200

    no_reason = supervisor.post(f"/api/businesses/{business_id}/verify/", {"reason": "  "}, format="json")
    assert no_reason.status_code == 400
    assert no_reason.json() == {"reason": ["Say how the partner was verified."]}
    verified = supervisor.post(
        f"/api/businesses/{business_id}/verify/", {"reason": "Visited the store, met the owner"}, format="json"
    )
    assert verified.status_code == 200, verified.content
    assert verified.json()["state"] == "verified"
    assert verified.json()["state_reason"] == "Visited the store, met the owner"
    assert owner.get(f"/api/agreements/{agreement_id}/").json()["state"] == "active"
    assert monitor.get(f"/api/cameras/{camera_id}/").status_code == 200
    assert camera_id in [row[0] for row in monitor.get("/api/cameras/map/").json()["cameras"]]
    assert monitor.get(f"/api/agreements/{agreement_id}/").status_code == 200

    revoked = owner.post(f"/api/agreements/{agreement_id}/revoke/", {"reason": "Changed my mind"}, format="json")
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    assert revoked.json()["revoked_at"]
    assert monitor.get(f"/api/cameras/{camera_id}/").status_code == 404
    assert camera_id not in [row[0] for row in monitor.get("/api/cameras/map/").json()["cameras"]]
    assert monitor.get(f"/api/agreements/{agreement_id}/").status_code == 404

    actions = list(AuditEvent.objects.filter(business_id=business_id).order_by("id").values_list("action", flat=True))
    assert actions == [
        "business.create",
        "site.create",
        "camera.create",
        "agreement.create",
        "business.submit",
        "camera.view_page",  # the supervisor's look at the pending camera
        "partner.verify",
        "camera.view_page",  # the monitor's
        "agreement.revoke",
    ]


def test_a_business_cannot_be_submitted_without_cameras_and_terms(client_as, alice):
    owner = client_as("alice")
    business_id = owner.post(
        "/api/businesses/",
        {"name": "Empty Shop", "contact_name": "Alice", "contact_email": "alice@example.com"},
        format="json",
    ).json()["id"]

    response = owner.post(f"/api/businesses/{business_id}/submit/")

    assert response.status_code == 400
    assert response.json() == {"detail": "Add at least one camera before submitting."}
    assert Business.objects.get(pk=business_id).state == Business.State.DRAFT


def test_a_suspended_partner_is_reinstated_by_verifying_it_again(client_as, alice_business, alice_agreement):
    supervisor = client_as("supervisor")

    suspended = supervisor.post(f"/api/businesses/{alice_business.pk}/suspend/", {"reason": "Complaint"}, format="json")
    assert suspended.json()["state"] == "suspended"
    alice_agreement.refresh_from_db()
    assert alice_agreement.state == SharingAgreement.State.SUSPENDED
    twice = supervisor.post(f"/api/businesses/{alice_business.pk}/suspend/", {"reason": "Again"}, format="json")
    assert twice.status_code == 400
    assert twice.json() == {"detail": "This partner is already suspended."}

    reinstated = supervisor.post(f"/api/businesses/{alice_business.pk}/verify/", {"reason": "Resolved"}, format="json")

    assert reinstated.json()["state"] == "verified"
    alice_agreement.refresh_from_db()
    assert alice_agreement.state == SharingAgreement.State.ACTIVE
    assert AuditEvent.objects.filter(action="partner.reinstate", business_id=alice_business.pk).exists()


def test_a_suspension_needs_a_reason(client_as, alice_business):
    response = client_as("supervisor").post(f"/api/businesses/{alice_business.pk}/suspend/", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"reason": ["Give the reason for the suspension; the owner will see it."]}
    alice_business.refresh_from_db()
    assert alice_business.state == Business.State.VERIFIED
