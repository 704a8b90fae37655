"""The exercise report PDF: a valid PDF (read back with pypdf) holding the findings given and nothing else;
untrusted text in every field renders inert; nothing is fetched while rendering."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from evaluations.reports import REDACTION_MARKER, Reader, ReportFinding, ReportIntegrityError, snapshot_sha256
from evaluations.reports.pdf import (
    exercise_report_html,
    exercise_report_pdf,
    html_to_pdf,
    local_static_fetcher,
)
from tests.reports.data import CANARIES, pdf_text, recording_server, second_snapshot, snapshot

PARTNER = Reader(name="Pat Partner", organisation="Partner Institute CA", is_partner=True)
STAFF = Reader(name="Uma Staff", organisation="UK AISI", is_partner=False)
EXERCISE = {"id": 4, "name": "Joint Exercise Alpha"}
WHEN = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)


def released(snap):
    return ReportFinding(snapshot=snap, sha256=snapshot_sha256(snap))


@pytest.fixture(scope="module")
def partner_pdf():
    findings = [released(snapshot()), released(second_snapshot())]
    return exercise_report_pdf(exercise=EXERCISE, reader=PARTNER, findings=findings, generated_at=WHEN)


def test_partner_report_is_a_valid_pdf_with_a_title_page_summary_and_one_page_per_finding(partner_pdf):
    reader = PdfReader(io.BytesIO(partner_pdf))
    assert partner_pdf.startswith(b"%PDF-")
    assert len(reader.pages) == 4
    assert reader.metadata.title == "Exercise report: Joint Exercise Alpha"
    title_page = reader.pages[0].extract_text()
    assert "Exercise report" in title_page and "Joint Exercise Alpha" in title_page
    assert "Prepared for Pat Partner, Partner Institute CA" in title_page
    assert "1 December 2026, 10:15 UTC" in title_page


def test_partner_report_holds_each_finding_with_evidence_marker_results_and_intervals(partner_pdf):
    text = pdf_text(partner_pdf)
    for expected in ("Model follows injected instructions", "Refusals drop under role-play",
                     "The model followed the instruction hidden in the tool output.", "Refusal rate fell from 90% to 40%.",
                     "Demo model (version 2)", "Arithmetic (version 3)", "sample sample-17, epoch 1",
                     "the operator's key is [redacted], and 2+2 is 4", "as DAN I will [redacted]",
                     "accuracy 0.8125 0.7 to 0.9 40", "refusal_rate 0.4 0.31 to 0.49 100",
                     "Released 1 December 2026, 09:30 UTC"):
        assert expected in text, expected
    assert text.count(REDACTION_MARKER) >= 3  # both excerpts and the title page's explanation


def test_partner_report_states_each_snapshots_release_version_and_sha256(partner_pdf):
    text = pdf_text(partner_pdf)
    for snap in (snapshot(), second_snapshot()):
        assert snapshot_sha256(snap) in text.replace("\n", "")
    assert "Release version 2" in text and "Release version 1" in text


def test_summary_table_counts_findings_by_severity_and_risk_area(partner_pdf):
    summary = PdfReader(io.BytesIO(partner_pdf)).pages[1].extract_text()
    assert "Severity Cyber Safeguards Total" in summary
    assert "High 1 0 1" in summary and "Medium 0 1 1" in summary and "Critical 0 0 0" in summary
    assert "Total 1 1 2" in summary


def test_report_holds_nothing_outside_the_snapshot_schema_nor_other_partners_names(partner_pdf):
    text = pdf_text(partner_pdf)
    for canary in CANARIES:
        assert canary not in text
    assert "Partner Institute JP" not in text  # the snapshot's partner list is not a partner's to read


def test_report_holds_only_the_findings_given():
    text = pdf_text(exercise_report_pdf(exercise=EXERCISE, reader=PARTNER, findings=[released(second_snapshot())]))
    assert "Refusals drop under role-play" in text
    assert "Model follows injected instructions" not in text and "sample-17" not in text


def test_a_sha256_that_does_not_match_its_snapshot_stops_the_report():
    snap = snapshot()
    tampered = ReportFinding(snapshot={**snap, "title": "Edited after release"}, sha256=snapshot_sha256(snap))
    with pytest.raises(ReportIntegrityError):
        exercise_report_pdf(exercise=EXERCISE, reader=PARTNER, findings=[tampered])


def test_staff_report_shows_state_and_release_list_and_says_it_may_hold_unreleased_work():
    draft = snapshot(version=None, released_at=None, partners=[])
    text = pdf_text(exercise_report_pdf(exercise=EXERCISE, reader=STAFF,
                                        findings=[ReportFinding(snapshot=draft, state="in_review"),
                                                  ReportFinding(snapshot=second_snapshot(), state="released")]))
    assert "State In review" in text and "State Released" in text
    assert "including findings that have not been released to anyone" in text
    assert "Released to Partner Institute CA; Partner Institute JP" in text
    assert "SHA-256" not in text


def test_partner_report_with_no_findings_says_nothing_has_been_released():
    text = pdf_text(exercise_report_pdf(exercise=EXERCISE, reader=PARTNER, findings=[]))
    assert "Nothing has been released to Partner Institute CA in this exercise yet." in text


def _hostile(base: str, label: str) -> str:
    return (f"<script>alert('{label}')</script><img src=\"{base}/img-{label}.png\">"
            f"<link rel=stylesheet href=\"{base}/css-{label}.css\"><style>@import url({base}/imp-{label}.css)</style>"
            f"[js-{label}](javascript:alert(1)) [data-{label}](data:text/html,x) ![pic-{label}]({base}/md-{label}.png)"
            f"\x00\x1b[31m\u202e{label}-end")


def _every_field(base: str) -> dict:
    h = lambda label: _hostile(base, label)  # noqa: E731
    versioned = {"name": h("model"), "version": 1}
    return snapshot(
        exercise={"id": 4, "name": h("exercise")}, title=h("title"), summary=h("summary"), severity=h("severity"),
        risk_area={"slug": h("slug"), "name": h("risk")}, models=[versioned],
        evaluations=[{"name": h("evaluation"), "version": 1}],
        evidence=[{"position": 1, "model": versioned, "evaluation": versioned, "sample_id": h("sample"), "epoch": 1,
                   "excerpt": h("excerpt") + " [redacted] tail"}],
        results=[{"model": versioned, "evaluation": versioned, "metrics": {h("metric"): h("value")},
                  "intervals": {h("metric"): [0.1, 0.2]}, "samples": 3}],
        released_at=h("released"), partners=[h("partner")])


def _link_targets(pdf: bytes) -> list[str]:
    targets = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action and "/URI" in action:
                targets.append(str(action["/URI"]))
    return targets


@pytest.mark.parametrize("reader", [PARTNER, STAFF], ids=["partner", "staff"])
def test_untrusted_text_in_every_field_renders_inert_and_fetches_nothing(reader):
    with recording_server() as (base, requests):
        snap = _every_field(base)
        hostile_reader = Reader(name=_hostile(base, "reader"), organisation=_hostile(base, "org"),
                                is_partner=reader.is_partner)
        html = exercise_report_html(exercise={"name": _hostile(base, "ex")}, reader=hostile_reader,
                                    findings=[released(snap)])
        pdf = exercise_report_pdf(exercise={"name": _hostile(base, "ex")}, reader=hostile_reader,
                                  findings=[released(snap)])
    assert requests == []
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<style" not in lowered
    assert lowered.count("<link") == 1  # the report's own stylesheet
    assert "\x00" not in html and "\x1b" not in html and "\u202e" not in html
    text = pdf_text(pdf)
    assert "<script>alert('title')</script>" in text  # shown as text
    assert "excerpt-end [redacted] tail" in text, text[text.find("excerpt-end") - 200:text.find("excerpt-end") + 100]
    document = PdfReader(io.BytesIO(pdf))
    catalog = document.trailer["/Root"]
    assert "/OpenAction" not in catalog and "/AA" not in catalog
    assert "/JavaScript" not in (catalog.get("/Names") or {})
    assert all(t.startswith(("http://", "https://", "mailto:")) for t in _link_targets(pdf))
    assert not any(t.startswith(base) for t in _link_targets(pdf))


def test_oversized_fields_render_shortened_within_seconds():
    big = "A" * 1_000_000
    words = "word " * 200_000
    snap = snapshot(title=big, summary=words, exercise={"id": 1, "name": big}, risk_area={"slug": "x", "name": big})
    snap["evidence"][0]["excerpt"] = big
    started = time.monotonic()
    pdf = exercise_report_pdf(exercise={"name": big}, reader=Reader(name=big, organisation=big, is_partner=True),
                              findings=[ReportFinding(snapshot=snap)])
    assert time.monotonic() - started < 30
    text = pdf_text(pdf)
    assert "[shortened]" in text and "Text shortened" in text
    assert len(pdf) < 2_000_000


def test_the_fetcher_refuses_every_url_but_the_reports_own_static_files():
    fetcher = local_static_fetcher()
    with recording_server() as (base, requests):
        html = (f'<link rel="stylesheet" href="{base}/x.css"><link rel="stylesheet" href="file:///etc/passwd">'
                '<link rel="stylesheet" href="../portal/portal.css">'
                f'<img src="{base}/pixel.gif"><img src="https://127.0.0.1:1/x.png">'
                '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><p>body</p>')
        pdf = html_to_pdf(html, fetcher=fetcher)
    assert requests == []
    assert pdf.startswith(b"%PDF-")
    assert len(fetcher.refused) == 6
    assert any(url.startswith("data:") for url in fetcher.refused)
