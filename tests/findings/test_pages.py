"""Findings pages (issue 11 items 1, 2, 5, 6, 9): the institutes' list, detail, forms and workflow pages, evidence
flags on the runs pages, the partners' landing and finding pages, and the downloads (CSV, JSON, PDF), each checked
for what it shows and, for partners, for everything it must not show."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client

from evaluations.models import EvidenceFlag, EvidenceItem, Finding, SampleResult
from evaluations.services import findings as services
from tests.findings.factories import finding_data
from tests.reports.data import pdf_text

pytestmark = pytest.mark.django_db

SECRET_SPAN = "CANARY-redacted-span-5d1e"
COMMENT_CANARY = "CANARY-internal-comment-88aa"
FLAG_CANARY = "CANARY-flag-note-31f0"


@pytest.fixture
def client_for(sign_in):
    def make(user):
        return sign_in(Client(), user)

    return make


def _release(finding, uk_approver, us_approver, partners):
    services.finding_submit(actor=finding.author, finding=finding)
    services.finding_sign_off(actor=uk_approver, finding=finding)
    services.finding_sign_off(actor=us_approver, finding=finding)
    return services.finding_release(actor=uk_approver, finding=finding, partners=[p.pk for p in partners])


@pytest.fixture
def canary_finding(exercise, uk_staff, us_staff, run):
    """A finding whose redacted span, internal comment and evidence flag note hold canaries."""
    sample = SampleResult.objects.filter(item__run=run).order_by("sample_id").first()
    excerpt = f"assistant: the key is {SECRET_SPAN} and that is all"
    start = excerpt.index(SECRET_SPAN)
    data = finding_data(run, title="Key disclosed in transcript", evidence=[
        {"sample": sample.pk, "excerpt": excerpt, "redactions": [[start, start + len(SECRET_SPAN)]]}])
    finding = services.finding_create(actor=uk_staff, exercise=exercise, data=data)
    services.finding_comment_create(actor=us_staff, finding=finding, body=f"Internal: {COMMENT_CANARY}")
    services.evidence_flag_create(actor=uk_staff, sample=sample, note=FLAG_CANARY)
    return finding


# --- institutes ----------------------------------------------------------------------------------------------

def test_staff_list_filters_by_state_severity_and_searches_title(client_for, uk_staff, draft, run, exercise):
    services.finding_create(actor=uk_staff, exercise=exercise,
                            data=finding_data(run, title="Refusals drop under role-play", severity="low"))
    client = client_for(uk_staff)
    page = client.get("/findings/").content.decode()
    assert "Model explains lock picking" in page and "Refusals drop under role-play" in page
    page = client.get("/findings/?severity=low").content.decode()
    assert "Refusals drop under role-play" in page and "Model explains lock picking" not in page
    page = client.get("/findings/?q=lock+picking").content.decode()
    assert "Model explains lock picking" in page and "Refusals drop" not in page
    page = client.get("/findings/?state=released").content.decode()
    assert "No findings match these filters" in page


def test_a_bad_filter_value_is_shown_as_a_problem_not_a_server_error(client_for, uk_staff, draft):
    response = client_for(uk_staff).get("/findings/?severity=apocalyptic&exercise=abc")
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page and "Model explains lock picking" not in page


def test_staff_detail_shows_the_redacted_preview_comments_and_the_buttons_the_role_allows(
        client_for, canary_finding, uk_staff, us_approver):
    page = client_for(uk_staff).get(f"/findings/{canary_finding.pk}/").content.decode()
    assert "assistant: the key is <span class=\"portal-redacted\">[redacted]</span> and that is all" in page
    assert COMMENT_CANARY in page  # comments are for the institutes
    assert "Submit for review" in page and "Sign off</a>" not in page
    services.finding_submit(actor=uk_staff, finding=canary_finding)
    approver_page = client_for(us_approver).get(f"/findings/{canary_finding.pk}/").content.decode()
    assert "Sign off</a>" in approver_page and "Request changes" in approver_page


def test_create_form_turns_double_brackets_into_redaction_spans(client_for, uk_staff, exercise, run):
    sample = SampleResult.objects.filter(item__run=run).order_by("sample_id").first()
    EvidenceFlag.objects.create(sample=sample, created_by=uk_staff, note="look")
    client = client_for(uk_staff)
    form_page = client.get(f"/findings/new/?sample={sample.pk}").content.decode()
    assert f'<option value="{sample.pk}" selected>' in form_page
    response = client.post("/findings/new/", {
        "exercise": exercise.pk, "title": "Leaks a name", "summary": "It **does**.", "severity": "medium",
        "risk_area": "cyber", "evidence_1_sample": sample.pk,
        "evidence_1_excerpt": "user: who?\nassistant: it was [[Alice Smith]] at [[10 Downing St]]."})
    finding = Finding.objects.get(title="Leaks a name")
    assert response.status_code == 302 and response["Location"] == f"/findings/{finding.pk}/"
    item = EvidenceItem.objects.get(finding=finding)
    assert item.excerpt == "user: who?\nassistant: it was Alice Smith at 10 Downing St."
    assert [item.excerpt[s:e] for s, e in item.redactions] == ["Alice Smith", "10 Downing St"]
    edit_page = client.get(f"/findings/{finding.pk}/edit/").content.decode()
    assert "it was [[Alice Smith]] at [[10 Downing St]]." in edit_page


def test_drafting_from_a_flagged_sample_starts_the_excerpt_with_the_flagged_messages(client_for, uk_staff, run):
    sample = SampleResult.objects.filter(item__run=run).order_by("sample_id").first()
    services.evidence_flag_create(actor=uk_staff, sample=sample, note="", message_indices=[2])
    page = client_for(uk_staff).get(f"/findings/new/?sample={sample.pk}").content.decode()
    assert "\nassistant: Here are the steps: first insert the tension wrench.</textarea>" in page


@pytest.mark.parametrize(("excerpt", "message"), [
    ("the [[secret", "is not closed"), ("a ]] b", "without"), ("[[a [[b]] c]]", "nested"), ("x [[]] y", "empty"),
])
def test_a_bad_redaction_marker_names_the_excerpt_and_saves_nothing(client_for, uk_staff, exercise, run, excerpt,
                                                                   message):
    sample = SampleResult.objects.filter(item__run=run).first()
    response = client_for(uk_staff).post(f"/findings/new/?sample={sample.pk}", {
        "exercise": exercise.pk, "title": "T", "severity": "low", "risk_area": "cyber",
        "evidence_1_sample": sample.pk, "evidence_1_excerpt": excerpt})
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page and message in page and 'href="#id_evidence_1_excerpt"' in page
    assert not Finding.objects.exists()


def test_a_service_refusal_names_the_field_and_saves_nothing(client_for, uk_staff, exercise, run):
    response = client_for(uk_staff).post("/findings/new/", {
        "exercise": exercise.pk, "title": "Bad\ntitle", "severity": "low", "risk_area": "cyber"})
    assert response.status_code == 200
    assert "Give one line of text." in response.content.decode()
    assert not Finding.objects.exists()


def test_a_control_character_in_a_page_field_is_a_400_naming_it_before_the_view(client_for, uk_staff, exercise, run):
    response = client_for(uk_staff).post("/findings/new/", {
        "exercise": exercise.pk, "title": "Bad\x07title", "severity": "low", "risk_area": "cyber"})
    assert response.status_code == 400
    assert "The field title contains a control character (U+0007)" in response.content.decode()
    assert not Finding.objects.exists()


def test_workflow_through_the_pages_submit_request_changes_sign_off_release_withdraw(
        client_for, draft, uk_staff, us_staff, uk_approver, us_approver, partner_ca, partner_viewer):
    pk = draft.pk
    assert client_for(uk_staff).post(f"/findings/{pk}/submit/").status_code == 302
    us = client_for(us_staff)
    refused = us.post(f"/findings/{pk}/request-changes/", {"reason": ""})
    assert refused.status_code == 200 and "There is a problem" in refused.content.decode()
    assert us.post(f"/findings/{pk}/request-changes/", {"reason": "Say which epoch."}).status_code == 302
    draft.refresh_from_db()
    assert draft.state == "draft" and draft.changes_requested_reason == "Say which epoch."
    client_for(uk_staff).post(f"/findings/{pk}/submit/")
    assert client_for(uk_approver).post(f"/findings/{pk}/sign-off/").status_code == 302
    assert client_for(us_approver).post(f"/findings/{pk}/sign-off/").status_code == 302
    release_page = client_for(uk_approver).get(f"/findings/{pk}/release/").content.decode()
    assert "Partner Institute CA" in release_page
    response = client_for(uk_approver).post(f"/findings/{pk}/release/", {"partners": [partner_ca.pk]})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.state == "released"
    partner = client_for(partner_viewer)
    assert "Model explains lock picking" in partner.get("/findings/").content.decode()
    assert client_for(uk_approver).post(f"/findings/{pk}/withdraw/").status_code == 302
    assert "Nothing has been released to your organisation yet" in partner.get("/findings/").content.decode()
    assert partner.get(f"/findings/{pk}/").status_code == 404


def test_sign_off_asks_a_stale_browser_session_to_reauthenticate(sign_in, in_review, uk_approver):
    stale = sign_in(Client(), uk_approver, authenticated_at=0)
    response = stale.post(f"/findings/{in_review.pk}/sign-off/")
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not in_review.sign_offs.exists()


def test_a_sample_is_flagged_on_its_transcript_page_and_the_flag_lists_on_the_run_page(client_for, uk_staff,
                                                                                     us_staff, run):
    sample = SampleResult.objects.filter(item__run=run).order_by("sample_id").first()
    client = client_for(uk_staff)
    page = client.get(f"/samples/{sample.pk}/").content.decode()
    assert "Flag this sample as evidence" in page and "2: Assistant: Here are the steps" in page
    response = client.post(f"/samples/{sample.pk}/flag/", {"note": "Step by step <b>lock</b> picking",
                                                          "message_indices": ["2"]})
    assert response.status_code == 302 and response["Location"] == f"/samples/{sample.pk}/"
    flag = EvidenceFlag.objects.get(sample=sample)
    assert flag.message_indices == [2] and flag.created_by == uk_staff
    run_page = client_for(us_staff).get(f"/runs/{run.pk}/").content.decode()
    assert "Step by step &lt;b&gt;lock&lt;/b&gt; picking" in run_page
    sample_page = client.get(f"/samples/{sample.pk}/").content.decode()
    assert "Draft a finding from this sample" in sample_page and "Remove" in sample_page
    assert "Remove" not in client_for(us_staff).get(f"/samples/{sample.pk}/").content.decode()
    client.post(f"/evidence-flags/{flag.pk}/delete/")
    assert not EvidenceFlag.objects.exists()


def test_reproduce_creates_a_draft_run_of_the_evidence_sample(client_for, draft, uk_staff):
    evidence = draft.evidence.get()
    response = client_for(uk_staff).post(f"/findings/{draft.pk}/evidence/{evidence.pk}/reproduce/")
    assert response.status_code == 302 and response["Location"].startswith("/runs/")


# --- untrusted text ------------------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_untrusted_text_in_every_field_comment_and_flag_note_renders_inert(client_for, uk_staff, exercise, run,
                                                                          uk_approver, us_approver, partner_ca,
                                                                          partner_viewer):
    sample = SampleResult.objects.filter(item__run=run).first()
    finding = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, title=HOSTILE, summary=f"{HOSTILE}\n\n[x](javascript:alert(3)) [y](data:text/html,z) ![i](http://e/x.png)",
        evidence=[{"sample": sample.pk, "excerpt": f"{HOSTILE} \x1b[31m", "redactions": []}]))
    services.finding_comment_create(actor=uk_staff, finding=finding, body=HOSTILE)
    services.evidence_flag_create(actor=uk_staff, sample=sample, note=HOSTILE)
    _release(finding, uk_approver, us_approver, [partner_ca])
    pages = [client_for(uk_staff).get(path).content.decode()
             for path in ("/findings/", f"/findings/{finding.pk}/", f"/samples/{sample.pk}/", f"/runs/{run.pk}/")]
    partner = client_for(partner_viewer)
    pages += [partner.get(path).content.decode() for path in ("/findings/", f"/findings/{finding.pk}/")]
    for page in pages:
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert 'href="javascript' not in page and 'href="data:' not in page and 'src="http://e' not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- partners ------------------------------------------------------------------------------------------------

def test_partner_landing_page_says_nothing_has_been_released_yet(client_for, partner_viewer, draft):
    page = client_for(partner_viewer).get("/findings/").content.decode()
    assert "Nothing has been released to your organisation yet" in page
    assert "Model explains lock picking" not in page


def test_partner_sign_in_lands_on_the_released_findings(client_for, partner_viewer, released):
    """The start page of a partner viewer is what was released to them (portal/home.py), linking to the findings."""
    page = client_for(partner_viewer).get("/").content.decode()
    assert "Model explains lock picking" in page and 'href="/findings/' in page


def test_partner_landing_filters_by_severity_risk_area_model_and_exercise(
        client_for, partner_viewer, released, exercise):
    client = client_for(partner_viewer)
    model_name = released.model_versions.get().registered_model.name
    assert "Model explains lock picking" in client.get(f"/findings/?model={model_name}").content.decode()
    assert "Model explains lock picking" in client.get(f"/findings/?exercise={exercise.pk}&risk_area=cyber"
                                                       "&severity=high").content.decode()
    filtered = client.get("/findings/?severity=low").content.decode()
    assert "No released findings match these filters" in filtered


def test_partner_pages_exports_and_reports_never_hold_a_redacted_span_comment_or_flag_note(
        client_for, canary_finding, uk_approver, us_approver, partner_ca, partner_viewer, exercise):
    release = _release(canary_finding, uk_approver, us_approver, [partner_ca])
    client = client_for(partner_viewer)
    bodies = {path: client.get(path) for path in (
        "/findings/", f"/findings/{canary_finding.pk}/", "/findings/export.csv", "/findings/export.json",
        f"/exercises/{exercise.pk}/report.pdf", f"/api/v1/exercises/{exercise.pk}/report.pdf",
        f"/exercises/{exercise.pk}/")}
    texts = {}
    for path, response in bodies.items():
        assert response.status_code == 200, path
        texts[path] = pdf_text(response.content) if path.endswith(".pdf") else response.content.decode()
    for path, text in texts.items():
        for canary in (SECRET_SPAN, COMMENT_CANARY, FLAG_CANARY, "uk.staff@example.org", "us.staff@example.org"):
            assert canary not in text, (path, canary)
    assert "Key disclosed in transcript" in texts[f"/findings/{canary_finding.pk}/"]
    assert release.sha256 in texts[f"/findings/{canary_finding.pk}/"]
    assert "the key is [redacted] and that is all" in texts[f"/exercises/{exercise.pk}/report.pdf"]
    assert release.sha256 in texts[f"/api/v1/exercises/{exercise.pk}/report.pdf"].replace(" ", "")
    rows = list(csv.DictReader(io.StringIO(texts["/findings/export.csv"])))
    assert [r["Title"] for r in rows] == ["Key disclosed in transcript"] and rows[0]["SHA-256"] == release.sha256
    document = json.loads(texts["/findings/export.json"])
    assert document["findings"][0]["evidence"][0]["excerpt"] == "assistant: the key is [redacted] and that is all"


def test_partner_sees_the_snapshot_not_later_edits(client_for, released, uk_staff, partner_viewer):
    services.finding_update(actor=uk_staff, finding=released, data={"title": "Edited after release"})
    page = client_for(partner_viewer).get(f"/findings/{released.pk}/").content.decode()
    assert "Model explains lock picking" in page and "Edited after release" not in page


def test_another_partner_and_unreleased_findings_are_404_everywhere(client_for, released, draft, exercise,
                                                                    other_partner_viewer, partner_viewer):
    other = client_for(other_partner_viewer)
    assert "Nothing has been released to your organisation yet" in other.get("/findings/").content.decode()
    for path in (f"/findings/{released.pk}/", f"/exercises/{exercise.pk}/report.pdf",
                 f"/api/v1/exercises/{exercise.pk}/report.pdf", f"/findings/{released.pk}/edit/",
                 f"/samples/{released.evidence.get().sample_id}/flag/"):
        assert other.get(path).status_code == 404, path
    assert "Model explains lock picking" not in other.get("/findings/export.csv").content.decode()
    partner = client_for(partner_viewer)
    unreleased = services.finding_create(actor=draft.author, exercise=exercise,
                                         data={**finding_data(released.evidence.get().sample.item.run),
                                               "title": "Not released"})
    assert partner.get(f"/findings/{unreleased.pk}/").status_code == 404
    assert "Not released" not in partner.get("/findings/export.json").content.decode()
    assert "Not released" not in pdf_text(partner.get(f"/exercises/{exercise.pk}/report.pdf").content)


# --- downloads for the institutes ------------------------------------------------------------------------------

def test_staff_report_and_exports_hold_the_current_findings_with_their_state(client_for, draft, uk_staff, exercise):
    client = client_for(uk_staff)
    response = client.get(f"/exercises/{exercise.pk}/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert 'filename="exercise-' in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert "Model explains lock picking" in text and "State Draft" in text
    assert "Here are the steps: [redacted]" in text and "tension wrench" not in text
    rows = list(csv.DictReader(io.StringIO(client.get("/findings/export.csv?state=draft").content.decode())))
    assert rows[0]["State"] == "draft" and rows[0]["Title"] == "Model explains lock picking"
    assert client.get("/findings/export.csv?state=nonsense").status_code == 400
    assert client.get("/findings/export.xml").status_code == 404


# --- query counts ------------------------------------------------------------------------------------------------

def _queries(client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_list_pages_cost_the_same_queries_with_2_and_6_findings(client_for, uk_staff, uk_approver, us_approver,
                                                                     partner_ca, partner_viewer, exercise, run):
    staff, partner = client_for(uk_staff), client_for(partner_viewer)
    staff.get("/findings/"), partner.get("/findings/")  # warm the sessions (first-request writes)
    counts: dict[int, tuple[int, int]] = {}
    for total in (2, 6):
        while Finding.objects.count() < total:
            finding = services.finding_create(actor=uk_staff, exercise=exercise,
                                              data=finding_data(run, title=f"Finding {Finding.objects.count()}"))
            _release(finding, uk_approver, us_approver, [partner_ca])
        counts[total] = (_queries(staff, "/findings/"), _queries(partner, "/findings/"))
    assert counts[2] == counts[6]
