"""Seed the risk areas (admins edit the list afterwards) and make releases immutable in the database itself:
a release's snapshot, hash, version, finding, author and time never change and a release is never deleted; the
only change allowed is setting its withdrawal (once)."""

from django.db import migrations

RISK_AREAS = [
    ("cyber", "Cyber"),
    ("chemical-and-biological", "Chemical and biological"),
    ("autonomy", "Autonomy"),
    ("safeguards", "Safeguards"),
    ("societal", "Societal"),
]


def seed_risk_areas(apps, schema_editor):  # type: ignore[no-untyped-def]
    RiskArea = apps.get_model("evaluations", "RiskArea")  # noqa: N806
    for position, (slug, name) in enumerate(RISK_AREAS, start=1):
        RiskArea.objects.get_or_create(slug=slug, defaults={"name": name, "ordering": position * 10})


def unseed_risk_areas(apps, schema_editor):  # type: ignore[no-untyped-def]
    RiskArea = apps.get_model("evaluations", "RiskArea")  # noqa: N806
    RiskArea.objects.filter(slug__in=[slug for slug, _ in RISK_AREAS], findings__isnull=True).delete()


FORWARD = """
CREATE OR REPLACE FUNCTION evaluations_release_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('portal.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE'
       AND NEW.finding_id = OLD.finding_id AND NEW.version = OLD.version
       AND NEW.snapshot = OLD.snapshot AND NEW.sha256 = OLD.sha256
       AND NEW.released_by_id = OLD.released_by_id AND NEW.released_at = OLD.released_at
       AND NEW.audit_head = OLD.audit_head
       AND OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL THEN
        RETURN NEW;  -- withdrawal, once
    END IF;
    RAISE EXCEPTION 'evaluations_release is immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS evaluations_release_immutable ON evaluations_release;
CREATE TRIGGER evaluations_release_immutable
    BEFORE UPDATE OR DELETE ON evaluations_release
    FOR EACH ROW EXECUTE FUNCTION evaluations_release_refuse_change();

DROP TRIGGER IF EXISTS evaluations_release_no_truncate ON evaluations_release;
CREATE TRIGGER evaluations_release_no_truncate
    BEFORE TRUNCATE ON evaluations_release
    FOR EACH STATEMENT EXECUTE FUNCTION evaluations_release_refuse_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS evaluations_release_no_truncate ON evaluations_release;
DROP TRIGGER IF EXISTS evaluations_release_immutable ON evaluations_release;
DROP FUNCTION IF EXISTS evaluations_release_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("evaluations", "0005_findings")]

    operations = [
        migrations.RunPython(seed_risk_areas, unseed_risk_areas),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
