"""The admin is a read-only window for supervisors; the audit trail cannot be changed through it."""

import pytest
from django.urls import reverse

from community.models import AuditEvent
from community.services import audit_record
from tests.conftest import log_in


@pytest.fixture
def event(alice):
    return audit_record(actor=alice, action="agreement.revoke", target=alice)


@pytest.fixture
def supervisor_admin(client, supervisor):
    return log_in(client, supervisor)


def test_supervisor_reads_the_audit_trail_in_the_admin(supervisor_admin, event):
    response = supervisor_admin.get(reverse("admin:community_auditevent_changelist"))
    assert response.status_code == 200
    assert b"agreement.revoke" in response.content


def test_the_admin_offers_no_way_to_change_or_delete_an_event(supervisor_admin, event):
    change = supervisor_admin.post(
        reverse("admin:community_auditevent_change", args=[event.pk]), {"action": "rewritten"}
    )
    assert change.status_code == 403
    delete = supervisor_admin.post(reverse("admin:community_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert delete.status_code == 403
    bulk = supervisor_admin.post(
        reverse("admin:community_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.get(pk=event.pk).action == "agreement.revoke"
    assert supervisor_admin.get(reverse("admin:community_auditevent_add")).status_code == 403


def test_camera_admin_never_shows_stream_credentials(supervisor_admin, alice_camera):
    response = supervisor_admin.get(reverse("admin:cameras_camera_change", args=[alice_camera.pk]))
    assert response.status_code == 200
    assert b"s3cret" not in response.content
    assert alice_camera.stream_url_encrypted.encode() not in response.content


@pytest.mark.parametrize("persona", ["alice", "monitor"])
def test_others_cannot_enter_the_admin(request, client, persona):
    log_in(client, request.getfixturevalue(persona))
    response = client.get(reverse("admin:community_auditevent_changelist"))
    assert response.status_code == 302


def test_supervisor_without_second_factor_cannot_enter_the_admin(client, supervisor, event):
    client.force_login(supervisor)
    response = client.get(reverse("admin:community_auditevent_changelist"))
    assert response.status_code == 302
