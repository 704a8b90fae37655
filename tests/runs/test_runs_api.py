"""The runs API (CONTRACT.md): create, read, actions, samples, import, compare, log download with Range."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from rest_framework.test import APIClient

from evaluations.models import Run, RunItem, SampleResult
from evaluations.services.execution import samples_ingest

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:  # type: ignore[no-untyped-def]
    from tests.support.helpers import sign_in

    # a browser session that has just authenticated (approve/reject ask for a recent authentication)
    return sign_in(APIClient(), user)


def test_create_pins_the_current_versions_and_lists_items(exercise, uk_staff, mock_model, counting_task):
    response = api(uk_staff).post("/api/v1/runs/", {
        "exercise": exercise.pk, "models": [mock_model.registered_model_id], "tasks": [counting_task.eval_task_id],
        "limit": 2, "epochs": 1, "schedule": "now",
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert len(body["items"]) == 1
    item = body["items"][0]
    assert item["model"] == "mockllm/model" and item["status"] == "pending" and item["log_url"] is None
    assert set(item) >= {"id", "model", "task", "status", "progress", "metrics", "log_url"}
    run = Run.objects.get(pk=body["id"])
    assert list(run.model_versions.all()) == [mock_model] and run.limit == 2


def test_bad_options_answer_400_with_the_field(exercise, uk_staff, mock_model, counting_task):
    response = api(uk_staff).post("/api/v1/runs/", {
        "exercise": exercise.pk, "model_versions": [mock_model.pk], "task_versions": [counting_task.pk],
        "max_connections": 99,
    }, format="json")
    assert response.status_code == 400
    assert "max_connections" in json.dumps(response.json())


def test_the_whole_approval_flow_through_the_api(draft_run, uk_staff, uk_approver, us_approver,
                                                 django_capture_on_commit_callbacks):
    url = f"/api/v1/runs/{draft_run.pk}/"
    assert api(uk_approver).post(url + "approve/").status_code == 409  # a draft is not approvable
    assert api(uk_staff).post(url + "submit/").json()["status"] == "submitted"
    assert api(uk_staff).post(url + "approve/").status_code == 403
    assert api(uk_approver).post(url + "approve/").json()["status"] == "submitted"
    with django_capture_on_commit_callbacks(execute=False):
        body = api(us_approver).post(url + "approve/", {"revision": 1}, format="json").json()
    assert body["status"] == "queued"
    assert [a["institute"] for a in body["approvals"]] == ["UK AISI", "US AISI"]
    assert body["items"][0]["queue_position"] == 1


def test_edit_through_the_api_voids_approvals(submitted_run, uk_staff, uk_approver):
    url = f"/api/v1/runs/{submitted_run.pk}/"
    api(uk_approver).post(url + "approve/")
    body = api(uk_staff).patch(url, {"epochs": 2}, format="json").json()
    assert body["status"] == "draft" and body["revision"] == 2 and body["epochs"] == 2
    assert body["approvals"][0]["voided_at"] is not None


def test_reject_needs_a_reason(submitted_run, us_approver):
    url = f"/api/v1/runs/{submitted_run.pk}/reject/"
    assert api(us_approver).post(url, {}, format="json").status_code == 400
    body = api(us_approver).post(url, {"reason": "Too costly"}, format="json").json()
    assert body["status"] == "rejected" and body["rejection_reason"] == "Too costly"


def test_partner_viewer_gets_404_for_runs_and_for_the_runs_list(submitted_run, partner_viewer):
    client = api(partner_viewer)
    assert client.get(f"/api/v1/runs/{submitted_run.pk}/").status_code == 404
    assert client.post(f"/api/v1/runs/{submitted_run.pk}/approve/").status_code == 404
    listing = client.get("/api/v1/runs/")
    assert listing.status_code == 404
    assert submitted_run.name not in listing.content.decode()


def test_samples_filter_by_item_score_error_and_text(submitted_run, us_staff, inspect_log):
    item = submitted_run.items.get()
    samples_ingest(item_id=item.pk, log_path=str(inspect_log))
    SampleResult.objects.filter(item=item, sample_id="2").update(error="boom", score=0)
    url = f"/api/v1/runs/{submitted_run.pk}/samples/"
    client = api(us_staff)
    assert client.get(url).json()["count"] == 4
    assert client.get(url, {"item": item.pk, "error": "yes"}).json()["results"][0]["sample_id"] == "2"
    assert client.get(url, {"score": "correct"}).json()["count"] == 3
    assert client.get(url, {"text": "Say 3"}).json()["results"][0]["sample_id"] == "3"
    assert client.get(url, {"page_size": 2}).json()["next"] is not None


def test_import_of_a_real_inspect_log_makes_a_succeeded_run_with_one_item(exercise, us_staff, inspect_log):
    with open(inspect_log, "rb") as handle:
        response = api(us_staff).post("/api/v1/runs/import/", {"exercise": exercise.pk, "file": handle},
                                      format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "succeeded" and body["origin"] == "imported"
    item = RunItem.objects.get(pk=body["items"][0]["id"])
    assert item.samples.count() == 4 and item.task_label.endswith("counting")
    assert body["items"][0]["log_url"].endswith(f"/api/v1/run-items/{item.pk}/log/")


def _upload(user, exercise, name: str, content: bytes):  # type: ignore[no-untyped-def]
    upload = io.BytesIO(content)
    upload.name = name
    return api(user).post("/api/v1/runs/import/", {"exercise": exercise.pk, "file": upload}, format="multipart")


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("header.json", "{}")
        zf.writestr("_journal/start.json", "{}")
        zf.writestr("samples/1_epoch_1.json", b"0" * (300 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize("case", ["truncated", "zip bomb", "foreign json", "foreign format", "foreign zip"])
def test_a_bad_import_answers_a_clear_error_and_saves_nothing(case, exercise, us_staff, inspect_log, settings,
                                                               tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    real = inspect_log.read_bytes()
    content, name = {
        "truncated": (real[: len(real) // 2], "log.eval"),
        "zip bomb": (_bomb() if case == "zip bomb" else b"", "bomb.eval"),
        "foreign json": (json.dumps({"hello": "world"}).encode(), "other.json"),
        "foreign format": (b"id,input,target\n1,a,b\n", "data.csv"),
        "foreign zip": (_foreign_zip(), "other.eval"),
    }[case]
    response = _upload(us_staff, exercise, name, content)
    assert response.status_code == 400
    message = json.dumps(response.json())
    assert "file" in response.json().get("errors", {}), message
    assert Run.objects.count() == 0 and RunItem.objects.count() == 0 and SampleResult.objects.count() == 0
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*.eval"))


def _foreign_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", "not a log")
    return buffer.getvalue()


def test_compare_gives_confidence_intervals_and_paired_differences(draft_run, exercise, uk_staff, us_staff):
    from evaluations.models import RunItem

    first = draft_run.items.get()
    second = RunItem.objects.create(run=draft_run, model_label="other", task_label=first.task_label,
                                    task_version=first.task_version)  # only one evaluation version compares
    for index in range(1, 11):
        SampleResult.objects.create(item=first, sample_id=str(index), score=1.0 if index <= 5 else 0.0)
        SampleResult.objects.create(item=second, sample_id=str(index), score=1.0 if index <= 8 else 0.0)
    body = api(us_staff).get("/api/v1/compare/", {"items": f"{first.pk},{second.pk}"}).json()
    assert body["items"][0]["score"]["mean"] == 0.5
    low, high = body["items"][0]["score"]["ci95"]
    assert low < 0.5 < high
    diff = body["differences"][0]
    assert diff["shared_samples"] == 10 and diff["difference"]["mean"] == pytest.approx(0.3)
    assert 0 < diff["p_value"] < 1 and diff["p_adjusted"] == pytest.approx(diff["p_value"])  # one pair: no change


def test_log_download_supports_range_and_is_access_checked(submitted_run, us_staff, partner_viewer, inspect_log,
                                                          settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    item = submitted_run.items.get()
    target = tmp_path / "run-logs" / "x.eval"
    target.parent.mkdir(parents=True)
    target.write_bytes(inspect_log.read_bytes())
    RunItem.objects.filter(pk=item.pk).update(log_path="run-logs/x.eval")
    url = f"/api/v1/run-items/{item.pk}/log/"
    client = api(us_staff)
    full = client.get(url)
    assert full.status_code == 200 and b"".join(full.streaming_content) == inspect_log.read_bytes()
    part = client.get(url, HTTP_RANGE="bytes=0-3")
    assert part.status_code == 206 and b"".join(part.streaming_content) == inspect_log.read_bytes()[:4]
    assert part["Content-Range"] == f"bytes 0-3/{inspect_log.stat().st_size}"
    tail = client.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == inspect_log.read_bytes()[-10:]
    assert client.head(url).status_code == 200
    assert api(partner_viewer).get(url).status_code == 404


def test_run_list_queries_do_not_grow_with_the_number_of_runs(exercise, uk_staff, us_staff, mock_model,
                                                              counting_task, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from evaluations.services.runs import run_create

    client = api(us_staff)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/runs/").status_code == 200
        return len(queries)

    for _ in range(2):
        run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task], options={})
    count()  # warm-up: the session's first request writes its once-only rows
    small = count()
    for _ in range(5):
        run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task], options={})
    assert count() == small
