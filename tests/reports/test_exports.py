"""Findings lists as CSV and JSON, built from the snapshots the reader may see: formula cells neutralised, only
the snapshot schema's fields, partners get the SHA-256 and staff the state."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from evaluations.reports import Reader, ReportFinding, ReportIntegrityError, snapshot_sha256
from evaluations.reports.csv import finding_rows, findings_csv, neutralise_cell
from evaluations.reports.jsonexport import findings_document, findings_json
from tests.reports.data import CANARIES, second_snapshot, snapshot

PARTNER = Reader(name="Pat Partner", organisation="Partner Institute CA", is_partner=True)
STAFF = Reader(name="Uma Staff", organisation="UK AISI", is_partner=False)


def released(snap):
    return ReportFinding(snapshot=snap, sha256=snapshot_sha256(snap))


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"),
    ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("plain = text", "plain = text"), ("", ""), (None, ""), (3, "3"),
])
def test_cells_a_spreadsheet_would_read_as_formulas_get_a_leading_quote(value, expected):
    assert neutralise_cell(value) == expected


def test_csv_neutralises_formulas_in_every_text_column():
    formula = "=cmd|' /C calc'!A0"
    snap = snapshot(title=formula, summary="@SUM(1)", exercise={"id": 1, "name": "+exercise"},
                    risk_area={"slug": "x", "name": "-area"}, models=[{"name": "=model", "version": 1}],
                    evaluations=[{"name": "@task", "version": 1}], released_at="=now()")
    rows = parse(findings_csv(findings=[released(snap)], reader=PARTNER))
    header, row = rows
    cells = dict(zip(header, row, strict=True))
    for column in ("Title", "Summary", "Exercise", "Risk area", "Models", "Evaluations", "Released at"):
        assert cells[column].startswith("'"), column
    assert cells["Title"] == "'" + formula


def test_partner_csv_has_one_row_per_finding_with_version_and_sha256_and_no_state():
    findings = [released(snapshot()), released(second_snapshot())]
    header, *rows = parse(findings_csv(findings=findings, reader=PARTNER))
    assert header == ["Finding", "Version", "Exercise", "Title", "Severity", "Risk area", "Models", "Evaluations",
                      "Evidence items", "Released at", "Summary", "SHA-256"]
    assert [r[3] for r in rows] == ["Model follows injected instructions", "Refusals drop under role-play"]
    assert rows[0][11] == snapshot_sha256(snapshot())
    assert rows[0][6] == "Demo model (version 2)" and rows[0][4] == "High"


def test_staff_csv_has_the_state_and_no_sha256_column():
    header, row = parse(findings_csv(findings=[ReportFinding(snapshot=snapshot(), state="in_review")], reader=STAFF))
    assert "State" in header and "SHA-256" not in header
    assert dict(zip(header, row, strict=True))["State"] == "in_review"


@pytest.mark.parametrize("reader", [PARTNER, STAFF], ids=["partner", "staff"])
def test_exports_hold_nothing_outside_the_snapshot_schema(reader):
    findings = [released(snapshot())]
    exported = findings_csv(findings=findings, reader=reader) + findings_json(findings=findings, reader=reader)
    for canary in CANARIES:
        assert canary not in exported


def test_partner_json_holds_the_snapshot_fields_with_sha256_and_no_partner_list_or_state():
    when = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    document = json.loads(findings_json(findings=[released(snapshot())], reader=PARTNER, generated_at=when))
    assert document["schema"] == 1 and document["generated_at"] == "2026-12-01T12:00:00Z"
    assert document["reader"] == {"organisation": "Partner Institute CA"}
    (finding,) = document["findings"]
    assert finding["title"] == "Model follows injected instructions"
    assert finding["sha256"] == snapshot_sha256(snapshot())
    assert finding["evidence"][0]["excerpt"].endswith("key is [redacted], and 2+2 is 4")
    assert finding["results"][0]["intervals"] == {"accuracy": [0.7, 0.9]}
    assert finding["models"] == [{"name": "Demo model", "version": 2}]
    assert "partners" not in finding and "state" not in finding


def test_json_strips_control_characters_and_keeps_html_as_plain_text():
    snap = snapshot(title="<script>alert(1)</script>\x00\x1b[2J\u202e")
    (finding,) = findings_document(findings=[ReportFinding(snapshot=snap)], reader=STAFF)["findings"]
    assert finding["title"] == "<script>alert(1)</script>[2J"


def test_exports_refuse_a_sha256_that_does_not_match_its_snapshot():
    snap = snapshot()
    tampered = ReportFinding(snapshot={**snap, "severity": "low"}, sha256=snapshot_sha256(snap))
    with pytest.raises(ReportIntegrityError):
        findings_csv(findings=[tampered], reader=PARTNER)
    with pytest.raises(ReportIntegrityError):
        finding_rows(findings=[tampered], reader=PARTNER)
