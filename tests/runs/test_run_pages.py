"""Run pages: list, plan, detail with live progress, actions, samples, transcript, compare, import, log viewer."""

from __future__ import annotations

import pytest
from django.test import Client

from evaluations.models import Run, SampleResult

pytestmark = pytest.mark.django_db


def browser(sign_in, user) -> Client:  # type: ignore[no-untyped-def]
    return sign_in(Client(), user)


def test_staff_plan_a_run_with_the_form_and_submit_it(sign_in, uk_staff, exercise, mock_model, counting_task):
    client = browser(sign_in, uk_staff)
    page = client.get("/runs/new/")
    assert page.status_code == 200 and "Mock model" in page.content.decode()
    response = client.post("/runs/new/", {
        "exercise": exercise.pk, "name": "Planned", "model_versions": [mock_model.pk],
        "task_versions": [counting_task.pk], "epochs": 1, "limit": 2, "schedule": "now", "submit": "1",
    })
    assert response.status_code == 302
    run = Run.objects.get(name="Planned")
    assert run.state == Run.State.SUBMITTED and run.limit == 2


def test_the_form_shows_an_error_summary(sign_in, uk_staff, exercise, mock_model):
    response = browser(sign_in, uk_staff).post("/runs/new/", {
        "exercise": exercise.pk, "model_versions": [mock_model.pk], "epochs": 1, "schedule": "now",
        "max_connections": 99})
    body = response.content.decode()
    assert response.status_code == 200 and "govuk-error-summary" in body


def test_detail_shows_what_is_approved_and_approvers_act_with_confirmation(sign_in, submitted_run, uk_approver,
                                                                          us_approver,
                                                                          django_capture_on_commit_callbacks):
    client = browser(sign_in, uk_approver)
    body = client.get(f"/runs/{submitted_run.pk}/").content.decode()
    assert "mockllm/model" in body and "counting" in body and "Not yet" in body
    assert f"/runs/{submitted_run.pk}/approve/" in body
    confirm = client.get(f"/runs/{submitted_run.pk}/approve/")
    assert confirm.status_code == 200 and "Approve this run" in confirm.content.decode()
    assert client.post(f"/runs/{submitted_run.pk}/approve/", {"revision": 1}).status_code == 302
    with django_capture_on_commit_callbacks(execute=False):
        browser(sign_in, us_approver).post(f"/runs/{submitted_run.pk}/approve/", {"revision": 1})
    submitted_run.refresh_from_db()
    assert submitted_run.state == Run.State.QUEUED
    body = client.get(f"/runs/{submitted_run.pk}/items/").content.decode()
    assert 'hx-trigger="every 2s"' in body and "Position 1 in the queue" in body


def test_rejecting_on_the_page_needs_a_reason(sign_in, submitted_run, us_approver):
    client = browser(sign_in, us_approver)
    response = client.post(f"/runs/{submitted_run.pk}/reject/", {"reason": ""})
    assert response.status_code == 200 and "govuk-error-summary" in response.content.decode()
    assert client.post(f"/runs/{submitted_run.pk}/reject/", {"reason": "No"}).status_code == 302


def test_a_finished_run_stops_polling_and_links_its_log(sign_in, finished_run, us_staff):
    body = browser(sign_in, us_staff).get(f"/runs/{finished_run.pk}/").content.decode()
    assert "every 2s" not in body
    item = finished_run.items.get()
    assert f"/run-items/{item.pk}/viewer/" in body and f"/run-items/{item.pk}/log.eval" in body


def test_samples_page_filters_and_the_transcript_escapes_model_text(sign_in, finished_run, us_staff):
    item = finished_run.items.get()
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    SampleResult.objects.filter(item=item, sample_id="1").update(
        output=evil, error="", messages=[{"role": "assistant", "content": evil + "\n\n**bold**"}],
        explanation=evil)
    client = browser(sign_in, us_staff)
    listing = client.get(f"/runs/{finished_run.pk}/samples/", {"text": "Say 3"}).content.decode()
    assert "Say 3" in listing and "Say 2" not in listing
    sample = SampleResult.objects.get(item=item, sample_id="1")
    page = client.get(f"/samples/{sample.pk}/").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_log_viewer_is_served_behind_the_access_check_with_its_own_csp(sign_in, finished_run, us_staff,
                                                                      partner_viewer):
    item = finished_run.items.get()
    client = browser(sign_in, us_staff)
    page = client.get(f"/run-items/{item.pk}/viewer/")  # a portal page (strict CSP) framing the viewer
    assert page.status_code == 200 and "wasm-unsafe-eval" not in page["Content-Security-Policy"]
    body = page.content.decode()
    assert f'src="/run-items/{item.pk}/viewer/index.html?log_file=/run-items/{item.pk}/log.eval"' in body
    assert f'href="/runs/{finished_run.pk}/"' in body
    redirect = client.get(f"/run-items/{item.pk}/viewer/index.html")
    assert redirect.status_code == 302 and f"log_file=/run-items/{item.pk}/log.eval" in redirect["Location"]
    index = client.get(redirect["Location"])
    assert index.status_code == 200 and b'id="app"' in b"".join(index.streaming_content)
    policy = index["Content-Security-Policy"]
    assert "'wasm-unsafe-eval'" in policy and "frame-ancestors 'self'" in policy
    assert index["X-Frame-Options"] == "SAMEORIGIN"
    asset = client.get(f"/run-items/{item.pk}/viewer/assets/index.js")
    assert asset.status_code == 200 and asset["Content-Type"].startswith("text/javascript")
    assert client.get(f"/run-items/{item.pk}/viewer/../../../settings.py").status_code == 404
    log = client.get(f"/run-items/{item.pk}/log.eval", HTTP_RANGE="bytes=0-1")
    assert log.status_code == 206 and b"".join(log.streaming_content) == b"PK"
    # The rest of the portal keeps its strict policy.
    assert "wasm-unsafe-eval" not in client.get(f"/runs/{finished_run.pk}/")["Content-Security-Policy"]
    other = browser(sign_in, partner_viewer)
    assert other.get(f"/run-items/{item.pk}/viewer/").status_code == 404
    assert other.get(f"/run-items/{item.pk}/viewer/assets/index.js").status_code == 404


def test_import_page_reports_a_bad_file_clearly(sign_in, us_staff, exercise):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = browser(sign_in, us_staff).post("/runs/import/", {
        "exercise": exercise.pk, "file": SimpleUploadedFile("x.eval", b"not a log at all")})
    body = response.content.decode()
    assert response.status_code == 200 and "govuk-error-summary" in body and "Unknown file format" in body
    assert not Run.objects.exists()


def test_compare_page_shows_intervals(sign_in, finished_run, us_staff):
    item = finished_run.items.get()
    body = browser(sign_in, us_staff).get("/runs/compare/", {"items": f"{item.pk}"}).content.decode()
    assert "95% confidence interval" in body


def test_runs_appear_in_the_navigation_for_institute_members_only(sign_in, uk_staff, partner_viewer):
    assert 'href="/runs/"' in browser(sign_in, uk_staff).get("/").content.decode()
    assert 'href="/runs/"' not in browser(sign_in, partner_viewer).get("/").content.decode()


def test_approvers_read_their_notifications_and_mark_them_read(sign_in, uk_approver, submitted_run):
    client = browser(sign_in, uk_approver)
    body = client.get("/notifications/").content.decode()
    assert "waits for your institute" in body and "New" in body
    assert client.post("/notifications/").status_code == 302
    assert "Mark all" not in client.get("/notifications/").content.decode()


def test_the_polled_items_partial_is_the_pages_items_part_without_the_pages_other_queries(sign_in, submitted_run,
                                                                                           uk_staff):
    """The partial htmx polls every 2 s renders what the page's results part shows, and does not read what only the
    rest of the page shows (the exercise's institutes, the run's model and evaluation lists)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = browser(sign_in, uk_staff)
    page = client.get(f"/runs/{submitted_run.pk}/").content.decode()
    with CaptureQueriesContext(connection) as queries:
        partial = client.get(f"/runs/{submitted_run.pk}/items/").content.decode()
    assert partial.strip().startswith('<div id="run-items"') and partial.strip() in page
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ("evaluations_run_model_versions", "evaluations_run_task_versions"):  # the run's lists: not read
        assert table not in tables
    institutes = [q for q in queries.captured_queries if q["sql"].startswith('SELECT "accounts_organisation"')
                  and "evaluations_exercise_institutes" in q["sql"]]
    assert institutes == []  # nor the exercise's institutes (who may see the run is decided in subqueries)
