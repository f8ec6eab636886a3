"""PostgreSQL refuses UPDATE and DELETE on the audit trail, whatever the client (ORM, raw SQL, admin)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION lantern_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (%% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER community_auditevent_append_only
    BEFORE UPDATE OR DELETE ON community_auditevent
    FOR EACH ROW EXECUTE FUNCTION lantern_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS community_auditevent_append_only ON community_auditevent;
DROP FUNCTION IF EXISTS lantern_audit_append_only();
"""


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    # SQLite (the embedded demo) relies on the ORM guards: its flush between tests uses DELETE,
    # which a trigger there would refuse. PostgreSQL flushes with TRUNCATE, which row triggers allow.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("community", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
