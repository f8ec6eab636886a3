"""The audit trail is append-only: no update or delete through the ORM, raw SQL or the admin."""

import pytest
from django.db import DatabaseError, connection, transaction

from community.models import AuditEvent, AuditTrailIsAppendOnly
from community.services import audit_record


@pytest.fixture
def event(alice) -> AuditEvent:
    return audit_record(actor=alice, action="test.event", target=alice, details={"n": 1})


def test_it_records_actor_action_and_target(event, alice):
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor, stored.actor_label, stored.action) == (alice, "alice@example.com", "test.event")
    assert stored.target_type == "community.user"
    assert stored.details == {"n": 1}


def test_saving_an_existing_event_is_refused(event):
    event.action = "rewritten"
    with pytest.raises(AuditTrailIsAppendOnly):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AuditTrailIsAppendOnly):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_bulk_update_and_delete_are_refused(event):
    with pytest.raises(AuditTrailIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="rewritten")
    with pytest.raises(AuditTrailIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_postgresql_refuses_raw_sql_changes(event):
    for sql in ("UPDATE community_auditevent SET action = 'x'", "DELETE FROM community_auditevent"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"
