"""The audit trail is append-only in the database and tamper-evident through its hash chain."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from accounts.services import api_token_create, api_token_revoke, user_role_change
from portal.audit import audit_chain_verify, audit_record
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(uk_staff):
    return [audit_record(actor=uk_staff, action=f"test.event{i}", after={"n": i}) for i in range(4)]


@pytest.mark.parametrize("sql", [
    "UPDATE portal_auditevent SET action = 'forged' WHERE id = %s",
    "DELETE FROM portal_auditevent WHERE id = %s",
])
def test_updating_or_deleting_an_audit_event_through_sql_fails(events, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [events[1].pk])
    assert AuditEvent.objects.get(pk=events[1].pk).action == "test.event1"


def test_truncating_the_audit_trail_fails(events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred FK checks of the inserted rows now
        cursor.execute("SET LOCAL portal.allow_audit_truncate = 'off'")
        cursor.execute("TRUNCATE portal_auditevent CASCADE")
    assert AuditEvent.objects.count() == 4


def test_the_orm_cannot_change_an_event_either(events):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=events[0].pk).update(action="forged")


def _tamper(sql, params):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_no_update_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE portal_auditevent ENABLE TRIGGER portal_auditevent_no_update_delete")


def test_audit_verify_passes_on_an_intact_chain(events, capsys):
    call_command("audit_verify")
    assert "4 events verified" in capsys.readouterr().out


def test_audit_verify_catches_an_edited_row(events, capsys):
    _tamper("UPDATE portal_auditevent SET after = '{\"n\": 99}' WHERE id = %s", [events[2].pk])
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit_verify")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert f"event id {events[2].pk}" in err and "edited" in err


def test_audit_verify_catches_a_deleted_row(events, capsys):
    _tamper("DELETE FROM portal_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(SystemExit):
        call_command("audit_verify")
    assert f"event id {events[2].pk}" in capsys.readouterr().err
    assert "missing" in audit_chain_verify().reason


def test_role_changes_are_audited_with_before_and_after(admin_user, uk_staff):
    user_role_change(actor=admin_user, user=uk_staff, role="approver", is_portal_admin=False)
    event = AuditEvent.objects.get(action="user.role_change")
    assert event.before["role"] == "staff" and event.after["role"] == "approver"
    assert event.actor == admin_user and event.object_id == str(uk_staff.pk)


def test_token_creation_revocation_and_writes_are_audited_without_the_secret(client, admin_user, uk_aisi, us_aisi):
    created = api_token_create(user=admin_user, scope="write")
    response = client.post("/api/v1/exercises/", {"name": "By token", "institutes": [uk_aisi.pk, us_aisi.pk]},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {created.plain}")
    assert response.status_code == 201
    api_token_revoke(actor=admin_user, token=created.token)
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["token.create", "token.write", "exercise.create", "token.revoke"]
    for event in AuditEvent.objects.all():
        assert created.plain not in str(event.before) + str(event.after)
    assert audit_chain_verify().ok


def test_approvers_see_their_exercises_events_and_staff_only_their_own(
    client, sign_in, exercise, uk_staff, us_staff, us_approver, admin_user
):
    own = audit_record(actor=uk_staff, action="test.own")
    in_exercise = audit_record(actor=us_staff, action="test.in_exercise", exercise_id=exercise.pk)
    other = audit_record(actor=admin_user, action="test.admin")
    sign_in(client, uk_staff)
    ids = {e["id"] for e in client.get("/api/v1/audit-events/").json()["results"]}
    assert ids == {own.pk}
    sign_in(client, us_approver)
    ids = {e["id"] for e in client.get("/api/v1/audit-events/").json()["results"]}
    assert in_exercise.pk in ids and own.pk not in ids and other.pk not in ids
    sign_in(client, admin_user)
    ids = {e["id"] for e in client.get("/api/v1/audit-events/?action=test.").json()["results"]}
    assert ids == {own.pk, in_exercise.pk, other.pk}
    filtered = client.get(f"/api/v1/audit-events/?exercise={exercise.pk}&actor={us_staff.email}").json()
    assert [e["id"] for e in filtered["results"]] == [in_exercise.pk]


def test_the_api_filters_by_exercise_name_as_the_page_does_and_by_id_still(client, sign_in, exercise, us_staff,
                                                                          us_approver, admin_user):
    from tests.support.factories import ExerciseFactory

    in_exercise = audit_record(actor=us_staff, action="test.named", exercise_id=exercise.pk)
    elsewhere = ExerciseFactory(name="An exercise the US is not in")
    audit_record(actor=admin_user, action="test.named", exercise_id=elsewhere.pk)
    sign_in(client, us_approver)
    for value in (exercise.name, exercise.name.upper(), f" {exercise.name} ", str(exercise.pk)):
        response = client.get("/api/v1/audit-events/", {"exercise": value, "action": "test.named"})
        assert [e["id"] for e in response.json()["results"]] == [in_exercise.pk], value
    page = client.get("/audit/", {"exercise": exercise.pk}).content.decode()
    assert exercise.name in page
    for value in ("No such exercise", elsewhere.name, str(elsewhere.pk)):  # unknown, or not one they may see
        response = client.get("/api/v1/audit-events/", {"exercise": value})
        assert response.status_code == 400 and "exercise" in response.json()["errors"], value


def test_the_csv_export_follows_the_filters_and_defuses_formulas(client, sign_in, admin_user):
    audit_record(actor=admin_user, action="test.csv", after={"note": "=HYPERLINK(1)"})
    audit_record(actor=admin_user, action="test.other")
    sign_in(client, admin_user)
    response = client.get("/audit/export.csv?action=test.csv")
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("id,created_at,actor_email")
    assert len(lines) == 2 and "test.csv" in lines[1]
    assert "test.other" not in body
    from accounts.views import _csv_safe

    assert _csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _csv_safe("+1") == "'+1" and _csv_safe("ok") == "ok"
    row = next(csv.DictReader(io.StringIO(body)))
    assert json.loads(row["after"]) == {"note": "=HYPERLINK(1)"}  # JSON, not Python's repr
