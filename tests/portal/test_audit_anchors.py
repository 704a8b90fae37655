"""Audit anchoring (issue 14): beat exports the chain head outside the database, and ``audit_verify`` reports a
trail whose tail was deleted, or whose rows were rewritten with the chain recomputed, even by someone who can drop
the append-only trigger. Real PostgreSQL; anchors in a real directory."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from portal import tasks
from portal.anchors import ANCHOR_EXPORT_TASK, ANCHOR_PREFIX, audit_anchor_export, audit_anchors_list
from portal.audit import GENESIS_HASH, audit_record, compute_hash, event_content
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def anchor_dir(settings, tmp_path):
    settings.AUDIT_ANCHOR_PATH = str(tmp_path / "anchors")
    return tmp_path / "anchors"


@pytest.fixture
def events(uk_staff):
    return [audit_record(actor=uk_staff, action=f"test.event{i}", after={"n": i}) for i in range(5)]


def _as_attacker(sql: str, params: list) -> None:
    """What a database superuser can do: switch the append-only trigger off, change rows, switch it on again."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_no_update_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE portal_auditevent ENABLE TRIGGER portal_auditevent_no_update_delete")


def _verify(capsys) -> tuple[int, str, str]:
    try:
        call_command("audit_verify")
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_export_writes_the_chain_head_once_per_head(anchor_dir, events, uk_staff):
    anchor = audit_anchor_export()
    assert anchor is not None and anchor.event_id == events[-1].pk and anchor.hash == events[-1].hash
    files = sorted(anchor_dir.iterdir())
    assert len(files) == 1
    body = json.loads(files[0].read_text())
    assert body["event_id"] == events[-1].pk and body["hash"] == events[-1].hash
    assert body["event_created_at"] == events[-1].created_at.isoformat() and body["exported_at"]

    assert audit_anchor_export() is None  # nothing recorded since: nothing written
    tasks.audit_anchor_export()  # the beat task, run twice: still one file
    tasks.audit_anchor_export()
    assert len(list(anchor_dir.iterdir())) == 1

    newer = audit_record(actor=uk_staff, action="test.later")
    tasks.audit_anchor_export()
    assert [a.event_id for a in audit_anchors_list()] == [events[-1].pk, newer.pk]
    assert files[0].read_text() == json.dumps(body, sort_keys=True) + "\n"  # the older anchor is untouched


def test_an_empty_trail_has_no_head_to_export(anchor_dir):
    assert audit_anchor_export() is None
    assert audit_anchors_list() == []


def test_a_clean_chain_verifies_against_its_anchors(anchor_dir, events, uk_staff, capsys):
    audit_anchor_export()
    audit_record(actor=uk_staff, action="test.after-the-anchor")
    audit_anchor_export()
    code, out, _err = _verify(capsys)
    assert code == 0
    assert "6 events verified" in out and "2 anchors" in out and "match the trail" in out


def test_a_deleted_tail_is_reported_with_the_anchor(anchor_dir, events, capsys):
    audit_anchor_export()
    # The chain alone cannot see it: the shortened chain is consistent.
    _as_attacker("DELETE FROM portal_auditevent WHERE id >= %s", [events[3].pk])
    call_command("audit_verify", "--no-anchors")
    assert "3 events verified" in capsys.readouterr().out

    code, _out, err = _verify(capsys)
    assert code == 1
    assert f"BROKEN at event id {events[-1].pk}" in err
    assert f"the trail ends at event id {events[2].pk}" in err
    assert "deleted from the end of the trail" in err
    assert "exported at" in err


def test_a_deleted_tail_followed_by_new_events_is_still_reported(anchor_dir, events, uk_staff, capsys):
    audit_anchor_export()
    _as_attacker("DELETE FROM portal_auditevent WHERE id >= %s", [events[3].pk])
    audit_record(actor=uk_staff, action="test.after-the-deletion")  # chains onto the shortened trail
    audit_anchor_export()  # beat goes on exporting: the older anchor still stands
    code, _out, err = _verify(capsys)
    assert code == 1
    assert f"BROKEN at event id {events[-1].pk}" in err and "rows were deleted" in err


def test_a_rewritten_row_with_the_chain_recomputed_is_reported(anchor_dir, events, capsys):
    audit_anchor_export()
    # The attacker edits event 1 and recomputes every hash after it, so the chain itself is consistent again.
    rows = list(AuditEvent.objects.order_by("id"))
    prev = GENESIS_HASH
    for row in rows:
        if row.pk == events[1].pk:
            row.after = {"n": 99}
        row.prev_hash = prev
        row.hash = compute_hash(prev, event_content(row))
        _as_attacker("UPDATE portal_auditevent SET after = %s::jsonb, prev_hash = %s, hash = %s WHERE id = %s",
                     [json.dumps(row.after), row.prev_hash, row.hash, row.pk])
        prev = row.hash
    call_command("audit_verify", "--no-anchors")
    assert "5 events verified" in capsys.readouterr().out

    code, _out, err = _verify(capsys)
    assert code == 1
    assert f"BROKEN at event id {events[-1].pk}" in err and "rewritten" in err


def test_anchors_go_to_the_log_storage_when_no_path_is_set(settings, tmp_path, events, capsys):
    settings.AUDIT_ANCHOR_PATH = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")  # the default storage follows (Django's setting_changed)
    audit_anchor_export()
    assert [p.name for p in (tmp_path / "media" / ANCHOR_PREFIX).iterdir()] == [
        f"{events[-1].pk:020d}-{events[-1].hash}.json"
    ]
    assert _verify(capsys)[0] == 0


def test_an_unreadable_anchor_storage_fails_with_a_clear_message(settings, tmp_path, events, capsys):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    settings.AUDIT_ANCHOR_PATH = str(not_a_directory)
    code, _out, err = _verify(capsys)
    assert code == 1 and "Audit anchors cannot be read from" in err and "--no-anchors" in err


def test_beat_schedules_the_export_at_the_configured_interval():
    entry = settings.CELERY_BEAT_SCHEDULE["audit-anchor-export"]
    assert entry["task"] == ANCHOR_EXPORT_TASK
    assert entry["schedule"] == float(settings.AUDIT_ANCHOR_INTERVAL_SECONDS)
