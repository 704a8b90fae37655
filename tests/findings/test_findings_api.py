"""The findings API: bad input on every field is a 400 naming the field and saves nothing; evidence flags; exports
(CSV cells neutralised); reproduce; comments; re-authentication of sign-off and release for browser sessions."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from evaluations.models import EvidenceFlag, EvidenceItem, Finding, FindingComment, Release, RiskArea, Run
from evaluations.services import findings as services
from portal.models import AuditEvent
from tests.findings.factories import finding_data
from tests.support.helpers import bearer_headers

pytestmark = pytest.mark.django_db


def _api(client: Client, user: Any) -> Any:
    headers = bearer_headers(user)

    class Api:
        def get(self, url: str) -> Any:
            return client.get(url, **headers)

        def post(self, url: str, data: Any = None) -> Any:
            return client.post(url, data if data is not None else {}, content_type="application/json", **headers)

        def patch(self, url: str, data: Any) -> Any:
            return client.patch(url, data, content_type="application/json", **headers)

        def delete(self, url: str) -> Any:
            return client.delete(url, **headers)

    return Api()


def _counts() -> tuple[int, ...]:
    return (Finding.objects.count(), EvidenceItem.objects.count(), FindingComment.objects.count(),
            EvidenceFlag.objects.count(), Release.objects.count(), RiskArea.objects.count(), Run.objects.count(),
            AuditEvent.objects.exclude(action="token.write").count())  # a token's write is audited anyway


def _named(response: Any, field: str) -> bool:
    body = response.json()
    return field in body.get("errors", {}) or field in body


def test_a_finding_is_created_through_the_api_with_derived_versions_and_quoted_results(client, uk_staff, exercise,
                                                                                      run):
    api = _api(client, uk_staff)
    response = api.post("/api/v1/findings/", {"exercise": exercise.pk, **finding_data(run)})
    assert response.status_code == 201, response.json()
    body = response.json()
    item = run.items.get()
    assert body["state"] == "draft" and body["revision"] == 1
    assert body["model_versions"] == [item.model_version_id] and body["task_versions"] == [item.task_version_id]
    assert body["evidence"][0]["redacted_excerpt"] == "Here are the steps: [redacted]"
    quoted = body["run_items"][0]
    assert quoted["metrics"]["accuracy"] == 0.5 and quoted["intervals"]["accuracy"] == [0.304, 0.696]
    assert quoted["samples"] == 3 and "mean_score" in quoted["intervals"]
    assert body["actions"] == ["edit", "submit", "comment", "reproduce"]


BAD_CREATE = [
    ("exercise", {"exercise": "one"}), ("exercise", {"exercise": 999999}), ("title", {"title": ""}),
    ("title", {"title": 5}), ("title", {"title": "x" * 201}), ("title", {"title": "two\nlines"}),
    ("title", {"title": "nul\x00"}), ("title", {"title": "bell\x07"}), ("summary", {"summary": "s" * 20_001}),
    ("summary", {"summary": ["list"]}), ("summary", {"summary": "nul\x00"}), ("summary", {"summary": "\ud800"}),
    ("severity", {"severity": "urgent"}),
    ("severity", {"severity": None}), ("risk_area", {"risk_area": "nosuch"}), ("risk_area", {"risk_area": [1]}),
    ("risk_area", {"risk_area": "cy\x00ber"}), ("exercise", {"exercise": 10**30}), ("run_items", {"run_items": [10**30]}),
    ("evidence", {"evidence": "all"}), ("evidence", {"evidence": [1]}), ("evidence", {"evidence": [{"excerpt": "x"}]}),
    ("evidence", {"evidence": [{"sample": 999999, "excerpt": "x"}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": "x", "colour": "red"}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": ""}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": "abc", "redactions": [[0, 4]]}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": "abcdef", "redactions": [[0, 3], [2, 5]]}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": "abc", "redactions": "0-1"}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": "abc", "message_indices": [99]}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": "x" * 20_001}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": "nul\x00"}]}),
    ("evidence", {"evidence": [{"sample": "SAMPLE", "excerpt": "x"}] * 51}),
    ("model_versions", {"model_versions": [999999]}), ("model_versions", {"model_versions": "1"}),
    ("task_versions", {"task_versions": [999999]}), ("task_versions", {"task_versions": [True]}),
    ("run_items", {"run_items": [999999]}), ("run_items", {"run_items": ["x"]}), ("colour", {"colour": "red"}),
]


def test_bad_input_on_create_is_a_400_naming_the_field_and_saves_nothing(client, uk_staff, exercise, run):
    sample = run.items.get().samples.first().pk
    api = _api(client, uk_staff)
    wrong = {}
    for number, (field, change) in enumerate(BAD_CREATE):
        data = {"exercise": exercise.pk, **finding_data(run)}
        for key, value in change.items():
            if key == "evidence" and isinstance(value, list):
                value = [{**e, "sample": sample} if isinstance(e, dict) and e.get("sample") == "SAMPLE" else e
                         for e in value]
            data[key] = value
        before = _counts()
        response = api.post("/api/v1/findings/", data)
        if response.status_code != 400 or not _named(response, field) or _counts() != before:
            wrong[(number, field)] = (response.status_code, response.content[:200])
    assert not wrong


def test_a_foreign_exercise_sample_is_refused_as_unknown(client, uk_staff, exercise, run, uk_aisi):
    from tests.findings.factories import finished_run
    from tests.support.factories import ExerciseFactory

    other = ExerciseFactory(institutes=[uk_aisi])
    foreign = finished_run(exercise=other, user=uk_staff, name="Other")
    data = {"exercise": exercise.pk, **finding_data(run)}
    data["evidence"] = [{"sample": foreign.items.get().samples.first().pk, "excerpt": "x"}]
    response = _api(client, uk_staff).post("/api/v1/findings/", data)
    assert response.status_code == 400 and _named(response, "evidence")
    assert "does not exist" in str(response.json())


BAD_ACTIONS = [
    ("request-changes", "in_review", {"reason": ""}, "reason"),
    ("request-changes", "in_review", {"reason": 5}, "reason"),
    ("request-changes", "in_review", {"reason": "r" * 2001}, "reason"),
    ("release", "signed_off", {"partners": []}, "partners"),
    ("release", "signed_off", {"partners": "CA"}, "partners"),
    ("release", "signed_off", {"partners": [0]}, "partners"),
    ("release", "signed_off", {}, "partners"),
    ("withdraw", "released", {"version": "one"}, "version"),
    ("withdraw", "released", {"version": 5}, "version"),
    ("sign-off", "in_review", {"revision": "x"}, "revision"),
    ("comments", "draft", {"body": ""}, "body"),
    ("comments", "draft", {"body": "b" * 10_001}, "body"),
    ("comments", "draft", {"body": "nul\x00"}, "body"),
    ("reproduce", "draft", {"evidence": "x"}, "evidence"),
    ("reproduce", "draft", {"evidence": 999999}, "evidence"),
]


def test_bad_input_on_an_action_is_a_400_naming_the_field_and_changes_nothing(client, us_approver, released,
                                                                              uk_staff, run, exercise):
    from evaluations.models.findings import FindingState

    draft_finding = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run, title="Another"))
    findings = {"released": released, "draft": draft_finding}
    api = _api(client, us_approver)
    wrong = {}
    for number, (action, state, data, field) in enumerate(BAD_ACTIONS):
        finding = findings.get(state) or released
        with transaction.atomic():
            sid = transaction.savepoint()
            # put the finding in the state the action needs, then roll it back after the request
            Finding.objects.filter(pk=finding.pk).update(state=getattr(FindingState, state.upper()))
            before = _counts()
            response = api.post(f"/api/v1/findings/{finding.pk}/{action}/", data)
            after = (Finding.objects.get(pk=finding.pk).state, _counts())
            transaction.savepoint_rollback(sid)
        if response.status_code != 400 or not _named(response, field) or after != (state, before):
            wrong[(number, action, field)] = (response.status_code, response.content[:200])
    assert not wrong


BAD_EDITS = [("title", {"title": ""}), ("severity", {"severity": "huge"}), ("revision", {"revision": "2"}),
             ("exercise", {"exercise": 999}), ("evidence", {"evidence": [{"sample": 1.5, "excerpt": "x"}]}),
             ("title", {})]


def test_bad_input_on_an_edit_is_a_400_naming_the_field_and_changes_nothing(client, uk_staff, draft):
    api = _api(client, uk_staff)
    wrong = {}
    for number, (field, data) in enumerate(BAD_EDITS):
        before = (draft.title, draft.revision, _counts())
        response = api.patch(f"/api/v1/findings/{draft.pk}/", data)
        draft.refresh_from_db()
        if response.status_code != 400 or not _named(response, field) or (
                draft.title, draft.revision, _counts()) != before:
            wrong[(number, field)] = (response.status_code, response.content[:200])
    assert not wrong


def test_a_stale_revision_is_a_409(client, uk_staff, draft):
    response = _api(client, uk_staff).patch(f"/api/v1/findings/{draft.pk}/", {"title": "New", "revision": 7})
    assert response.status_code == 409


def test_bad_filters_are_a_400_naming_the_parameter(client, uk_staff, draft):
    api = _api(client, uk_staff)
    for query, field in [("severity=urgent", "severity"), ("state=gone", "state"), ("risk_area=nosuch", "risk_area"),
                         ("exercise=abc", "exercise"), ("q=" + "x" * 201, "q"), ("model=" + "m" * 201, "model"),
                         ("q=a%00b", "q"), ("model=a%00b", "model"), ("risk_area=a%00b", "risk_area")]:
        for suffix in ("", "&format=csv"):
            response = api.get(f"/api/v1/findings/?{query}{suffix}")
            assert response.status_code == 400 and _named(response, field), response.content


def test_filters_narrow_the_institute_list(client, uk_staff, draft, in_review, exercise):
    api = _api(client, uk_staff)
    assert len(api.get("/api/v1/findings/").json()["results"]) == 1  # draft and in_review are one finding
    assert api.get("/api/v1/findings/?state=in_review").json()["count"] == 1
    assert api.get("/api/v1/findings/?severity=low").json()["count"] == 0
    assert api.get("/api/v1/findings/?risk_area=cyber&severity=high").json()["count"] == 1
    assert api.get("/api/v1/findings/?model=Finished run model").json()["count"] == 1
    assert api.get("/api/v1/findings/?model=Other").json()["count"] == 0
    assert api.get(f"/api/v1/findings/?exercise={exercise.pk}&q=lock").json()["count"] == 1


def test_the_csv_export_neutralises_formula_cells_and_holds_what_the_reader_sees(client, uk_staff, exercise, run):
    services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, title='=HYPERLINK("http://evil.example","x")', summary="@SUM(A1)\n+1 -2"))
    response = _api(client, uk_staff).get("/api/v1/findings/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["Title"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert rows[0]["Summary"].startswith("'@SUM")
    assert rows[0]["State"] == "draft"
    exported = _api(client, uk_staff).get("/api/v1/findings/?format=json").json()
    assert exported["findings"][0]["title"].startswith("=HYPERLINK")  # JSON keeps the text as it is


def test_the_partner_export_holds_their_current_snapshots_with_hashes(client, released, partner_viewer, sign_in):
    partner = sign_in(Client(), partner_viewer)
    release = Release.objects.get(finding=released)
    rows = list(csv.DictReader(io.StringIO(partner.get("/api/v1/findings/?format=csv").content.decode())))
    assert [(r["Finding"], r["Version"], r["SHA-256"]) for r in rows] == [(str(released.pk), "1", release.sha256)]
    assert "State" not in rows[0] and rows[0]["Models"] == "Finished run model (version 1)"
    assert partner.get("/api/v1/findings/?format=json").json()["findings"][0]["sha256"] == release.sha256


@pytest.mark.parametrize("reader", ["uk_staff", "us_approver", "partner_viewer", "other_partner_viewer"])
@pytest.mark.parametrize("query", ["", "severity=high", "severity=low"])
def test_the_page_and_the_api_export_the_same_columns_and_rows_for_the_same_reader(
        request, client, reader, query, released, draft, exercise, run, uk_staff, sign_in):
    """One definition of the findings export (selectors.reports.findings_export): the findings page's downloads and
    the API's ``?format=`` give the same CSV and the same JSON findings, for staff and for partners."""
    services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run, title="Second, unreleased"))
    browser = sign_in(Client(), request.getfixturevalue(reader))
    page_csv = browser.get(f"/findings/export.csv?{query}")
    api_csv = browser.get(f"/api/v1/findings/?format=csv&{query}")
    assert page_csv.status_code == api_csv.status_code == 200
    assert page_csv["Content-Type"] == api_csv["Content-Type"] == "text/csv; charset=utf-8"
    assert page_csv.content == api_csv.content
    header = next(csv.reader(io.StringIO(api_csv.content.decode())))
    assert ("SHA-256" in header) == reader.endswith("partner_viewer") and ("State" in header) != ("SHA-256" in header)
    page_json = browser.get(f"/findings/export.json?{query}").json()
    api_json = browser.get(f"/api/v1/findings/?format=json&{query}").json()
    assert page_json["findings"] == api_json["findings"] and page_json["reader"] == api_json["reader"]
    rows = len(list(csv.DictReader(io.StringIO(api_csv.content.decode()))))
    assert rows == len(api_json["findings"])
    expected = {"uk_staff": 2, "us_approver": 2, "partner_viewer": 1, "other_partner_viewer": 0}[reader]
    assert rows == (0 if query == "severity=low" else expected)


def test_evidence_flags_are_created_listed_per_run_and_deleted_by_their_author_only(client, uk_staff, us_staff,
                                                                                    run, exercise):
    sample = run.items.get().samples.first()
    api = _api(client, uk_staff)
    created = api.post("/api/v1/evidence-flags/", {"sample": sample.pk, "note": "Unsafe", "message_indices": [1, 2]})
    assert created.status_code == 201, created.content
    flag = created.json()
    assert flag["run"] == run.pk and flag["message_indices"] == [1, 2] and flag["created_by"] == uk_staff.email
    other = _api(client, us_staff)
    listed = other.get(f"/api/v1/evidence-flags/?run={run.pk}").json()["results"]
    assert [f["id"] for f in listed] == [flag["id"]]
    assert other.get("/api/v1/evidence-flags/?run=99999").json()["results"] == []
    assert other.delete(f"/api/v1/evidence-flags/{flag['id']}/").status_code == 403
    for bad, field in (({"sample": "x"}, "sample"), ({"sample": 999999}, "sample"),
                       ({"sample": sample.pk, "message_indices": [7]}, "message_indices"),
                       ({"sample": sample.pk, "note": "n" * 2001}, "note"),
                       ({"sample": sample.pk, "colour": 1}, "colour")):
        response = api.post("/api/v1/evidence-flags/", bad)
        assert response.status_code == 400 and _named(response, field), (bad, response.content)
    assert other.get("/api/v1/evidence-flags/?run=x").status_code == 400
    assert api.delete(f"/api/v1/evidence-flags/{flag['id']}/").status_code == 204
    assert not EvidenceFlag.objects.exists()
    assert AuditEvent.objects.filter(action="evidence_flag.delete").count() == 1


def test_reproduce_through_the_api_answers_with_a_draft_run(client, us_staff, draft):
    evidence = draft.evidence.get()
    response = _api(client, us_staff).post(f"/api/v1/findings/{draft.pk}/reproduce/", {"evidence": evidence.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft" and body["sample_ids"] == [evidence.sample.sample_id]
    assert body["model_versions"] == [evidence.sample.item.model_version_id]


def test_comments_list_with_their_mentions(client, us_staff, uk_staff, draft):
    api = _api(client, us_staff)
    created = api.post(f"/api/v1/findings/{draft.pk}/comments/", {"body": "@uk.staff is this version 1?"})
    assert created.status_code == 201 and created.json()["mentions"] == [uk_staff.email]
    assert [c["body"] for c in api.get(f"/api/v1/findings/{draft.pk}/comments/").json()] == [
        "@uk.staff is this version 1?"]


def test_sign_off_and_release_ask_a_browser_session_to_re_authenticate(in_review, us_approver, sign_in):
    stale = sign_in(Client(), us_approver, authenticated_at=time.time() - 3600)
    response = stale.post(f"/api/v1/findings/{in_review.pk}/sign-off/", {}, content_type="application/json")
    assert response.status_code == 403 and "re-authentication" in response.json()["detail"].lower()
    fresh = sign_in(Client(), us_approver)
    assert fresh.post(f"/api/v1/findings/{in_review.pk}/sign-off/", {},
                      content_type="application/json").status_code == 200


def test_risk_areas_are_read_by_everyone_and_edited_by_admins(client, admin_user, partner_viewer, uk_staff, cyber,
                                                              sign_in):
    partner = sign_in(Client(), partner_viewer)
    assert "cyber" in [a["slug"] for a in partner.get("/api/v1/risk-areas/").json()]
    admin = _api(client, admin_user)
    created = admin.post("/api/v1/risk-areas/", {"slug": "model-theft", "name": "Model theft", "ordering": 60})
    assert created.status_code == 201
    for bad, field in (({"slug": "Bad Slug", "name": "x"}, "slug"), ({"slug": "model-theft", "name": "x"}, "slug"),
                       ({"slug": "ok-slug", "name": ""}, "name"), ({"slug": "ok2", "name": "n", "ordering": -1},
                                                                   "ordering")):
        response = admin.post("/api/v1/risk-areas/", bad)
        assert response.status_code == 400 and _named(response, field), response.content
    assert _api(client, uk_staff).post("/api/v1/risk-areas/", {"slug": "x", "name": "x"}).status_code == 403
    assert AuditEvent.objects.filter(action="risk_area.create").count() == 1


HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1)) [y](data:text/html,hi)'


def test_hostile_text_is_stored_as_given_and_served_only_as_json_or_a_csv_attachment(client, uk_staff, us_staff,
                                                                                   exercise, run):
    """Rendering is the pages' and the PDF's job (escaped, Markdown through nh3); the API returns data, never HTML."""
    api = _api(client, uk_staff)
    created = api.post("/api/v1/findings/", {"exercise": exercise.pk, **finding_data(
        run, title="<b>bold</b> title", summary=HOSTILE)})
    assert created.status_code == 201
    finding = created.json()["id"]
    _api(client, us_staff).post(f"/api/v1/findings/{finding}/comments/", {"body": HOSTILE})
    sample = run.items.get().samples.first().pk
    _api(client, us_staff).post("/api/v1/evidence-flags/", {"sample": sample, "note": HOSTILE})
    for url in (f"/api/v1/findings/{finding}/", f"/api/v1/findings/{finding}/comments/", "/api/v1/evidence-flags/"):
        response = api.get(url)
        assert response["Content-Type"] == "application/json"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert HOSTILE in str(response.json())
    export = api.get("/api/v1/findings/?format=csv")
    assert export["Content-Type"].startswith("text/csv") and export["Content-Disposition"].startswith("attachment")


def test_in_a_closed_exercise_an_approver_still_withdraws_a_release_but_releases_and_edits_nothing(
        client, released, exercise, uk_approver, uk_staff, partner_viewer, sign_in):
    """docs/findings.md "Closed exercise": withdrawing only hides, so it stays possible; every other write is a 403."""
    from django.utils import timezone

    exercise.status = exercise.Status.CLOSED
    exercise.archived_at = timezone.now()
    exercise.save()
    approver, staff = _api(client, uk_approver), _api(client, uk_staff)
    assert staff.patch(f"/api/v1/findings/{released.pk}/", {"title": "Changed after closing"}).status_code == 403
    assert staff.post("/api/v1/findings/", {"exercise": exercise.pk, "title": "New"}).status_code == 403
    page = sign_in(Client(), uk_approver).get(f"/findings/{released.pk}/").content.decode()
    assert f"/findings/{released.pk}/withdraw/" in page and f"/findings/{released.pk}/edit/" not in page
    response = approver.post(f"/api/v1/findings/{released.pk}/withdraw/")
    assert response.status_code == 200 and response.json()["state"] == "signed_off"
    assert approver.post(f"/api/v1/findings/{released.pk}/release/",
                         {"partners": [partner_viewer.organisation_id]}).status_code == 403
    assert sign_in(Client(), partner_viewer).get("/api/v1/findings/").json()["count"] == 0
    assert AuditEvent.objects.filter(action="finding.withdraw").count() == 1


def test_partners_get_404_for_creating_or_editing_a_finding_in_the_api_as_on_the_pages(
        client, released, exercise, run, partner_viewer, sign_in):
    partner = sign_in(Client(), partner_viewer)
    created = partner.post("/api/v1/findings/", {"exercise": exercise.pk, **finding_data(run)},
                           content_type="application/json")
    assert created.status_code == 404
    assert partner.get("/findings/new/").status_code == 404
    assert partner.get(f"/api/v1/findings/{released.pk}/").status_code == 200  # its snapshot
    assert partner.patch(f"/api/v1/findings/{released.pk}/", {"title": "x"},
                         content_type="application/json").status_code == 404
    assert Finding.objects.count() == 1
