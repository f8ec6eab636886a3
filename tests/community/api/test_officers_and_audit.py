"""Supervisors manage their own agency's officers; owners and supervisors search the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from community.models import Agency, AuditEvent, Invitation, User
from community.services import audit_record
from tests.factories import OfficerFactory

# ---------------------------------------------------------------- officers


def test_a_supervisor_lists_only_their_own_agencys_officers(client_as, monitor, supervisor):
    OfficerFactory(email="other@police.example", agency=Agency.objects.create(name="State Police"))

    response = client_as("supervisor").get("/api/officers/")

    assert response.status_code == 200
    assert sorted(row["email"] for row in response.json()["results"]) == [monitor.email, supervisor.email]
    assert set(response.json()["results"][0]) == {
        "id",
        "email",
        "full_name",
        "role",
        "is_active",
        "date_joined",
        "last_login",
    }


def test_another_agencys_officer_is_404(client_as, supervisor):
    other = OfficerFactory(email="other@police.example", agency=Agency.objects.create(name="State Police"))
    client = client_as("supervisor")

    assert client.get(f"/api/officers/{other.pk}/").status_code == 404
    assert client.post(f"/api/officers/{other.pk}/deactivate/").status_code == 404
    other.refresh_from_db()
    assert other.is_active


def test_owners_are_not_officers(client_as, alice, supervisor):
    assert client_as("supervisor").get(f"/api/officers/{alice.pk}/").status_code == 404


def test_a_supervisor_invites_an_officer_by_email(client_as, supervisor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("supervisor").post(
            "/api/officers/", {"email": "New.Officer@police.example", "full_name": "New Officer", "role": "monitor"}
        )

    assert response.status_code == 201, response.content
    invitation = Invitation.objects.get()
    assert response.json()["email"] == invitation.email == "new.officer@police.example"
    assert invitation.agency_id == supervisor.agency_id
    assert "token" not in response.json()
    assert [message.to for message in mail.outbox] == [["new.officer@police.example"]]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"email": "alice@example.com"}, {"email": ["Someone already has an account with this email address."]}),
        ({"email": "not-an-address"}, {"email": ["Enter a valid email address."]}),
        ({"role": "owner"}, {"role": ['"owner" is not a valid choice.']}),
    ],
)
def test_a_bad_invitation_is_refused(client_as, alice, fields, expected):
    response = client_as("supervisor").post(
        "/api/officers/", {"email": "x@police.example", "full_name": "X", "role": "monitor", **fields}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == expected
    assert not Invitation.objects.exists()


def test_a_supervisor_deactivates_and_reactivates_a_monitor(client_as, monitor):
    client = client_as("supervisor")

    deactivated = client.post(f"/api/officers/{monitor.pk}/deactivate/", {"reason": "Transferred"}, format="json")

    assert deactivated.status_code == 200
    assert deactivated.json()["is_active"] is False
    assert client_as("monitor").get("/api/cameras/").status_code == 401
    reactivated = client.post(f"/api/officers/{monitor.pk}/reactivate/")
    assert reactivated.json()["is_active"] is True
    assert AuditEvent.objects.filter(target_id=str(monitor.pk), action__startswith="officer.").count() == 2


def test_a_supervisor_cannot_deactivate_themself(client_as, supervisor):
    response = client_as("supervisor").post(f"/api/officers/{supervisor.pk}/deactivate/")

    assert response.status_code == 400
    assert response.json() == {"detail": "You cannot deactivate your own account."}
    supervisor.refresh_from_db()
    assert supervisor.is_active


# ---------------------------------------------------------------- audit trail


@pytest.fixture
def events(alice, alice_camera, charlie_camera, monitor) -> dict[str, AuditEvent]:
    now = timezone.now()
    return {
        "alice_old": AuditEvent.objects.create(
            actor=monitor,
            actor_label=monitor.email,
            action="camera.view_page",
            target_label="Front door",
            business_id=alice_camera.business_id,
            camera_id=alice_camera.pk,
            created_at=now - timedelta(days=10),
        ),
        "alice_new": audit_record(actor=monitor, action="camera.view_snapshot", target=alice_camera),
        "alice_edit": audit_record(actor=alice, action="camera.update", target=alice_camera),
        "charlie": audit_record(actor=monitor, action="camera.view_page", target=charlie_camera),
    }


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_an_owner_reads_only_her_businesses_events(client_as, events):
    alice_ids = {events[name].pk for name in ("alice_old", "alice_new", "alice_edit")}

    assert _ids(client_as("alice").get("/api/audit-events/")) >= alice_ids
    assert events["charlie"].pk not in _ids(client_as("alice").get("/api/audit-events/"))
    assert _ids(client_as("bob").get("/api/audit-events/")) >= alice_ids
    assert _ids(client_as("charlie").get("/api/audit-events/")) & alice_ids == set()


def test_a_supervisor_reads_every_event(client_as, events):
    assert _ids(client_as("supervisor").get("/api/audit-events/")) >= {event.pk for event in events.values()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?action=camera.view", {"alice_old", "alice_new"}),
        ("?action=camera.update", {"alice_edit"}),
        ("?q=monica", {"alice_old", "alice_new"}),
        ("?q=front+door", {"alice_old", "alice_new", "alice_edit"}),
    ],
)
def test_the_owner_filters_her_access_log(client_as, events, query, expected):
    assert _ids(client_as("alice").get(f"/api/audit-events/{query}")) == {events[name].pk for name in expected}


def test_the_audit_trail_filters_by_camera_and_time(client_as, events, alice_camera):
    since = (timezone.now() - timedelta(days=1)).isoformat()
    until = (timezone.now() - timedelta(days=5)).isoformat()
    client = client_as("supervisor")

    recent = _ids(client.get("/api/audit-events/", {"camera": alice_camera.pk, "since": since}))
    older = _ids(client.get("/api/audit-events/", {"camera": alice_camera.pk, "until": until}))

    assert recent == {events["alice_new"].pk, events["alice_edit"].pk}
    assert older == {events["alice_old"].pk}


@pytest.mark.parametrize("query", ["?since=yesterday", "?camera=front"])
def test_a_bad_audit_filter_is_refused(client_as, query):
    assert client_as("alice").get(f"/api/audit-events/{query}").status_code == 400


def test_a_monitor_cannot_read_the_audit_trail(client_as, events):
    response = client_as("monitor").get("/api/audit-events/")

    assert response.status_code == 403
    assert response.json() == {"detail": "Your role cannot read the audit trail."}


def test_every_officer_has_a_police_role(client_as, monitor):
    roles = {row["role"] for row in client_as("supervisor").get("/api/officers/").json()["results"]}

    assert roles == {User.Role.MONITOR, User.Role.SUPERVISOR}
