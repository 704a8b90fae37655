from django.db import migrations

# The audit trail is append-only in the database itself: UPDATE, DELETE and TRUNCATE raise.
FORWARD = """
CREATE OR REPLACE FUNCTION portal_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    -- The test suite's database flush (TRUNCATE between transactional tests) sets this on its own
    -- connections (settings.py, PORTAL_TESTING only). UPDATE and DELETE are refused regardless.
    IF TG_OP = 'TRUNCATE' AND current_setting('portal.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'portal_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS portal_auditevent_no_update_delete ON portal_auditevent;
CREATE TRIGGER portal_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_auditevent_refuse_change();

DROP TRIGGER IF EXISTS portal_auditevent_no_truncate ON portal_auditevent;
CREATE TRIGGER portal_auditevent_no_truncate
    BEFORE TRUNCATE ON portal_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION portal_auditevent_refuse_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS portal_auditevent_no_truncate ON portal_auditevent;
DROP TRIGGER IF EXISTS portal_auditevent_no_update_delete ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_auditevent_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_auditevent")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
