"""The field rules a hostile tester found loose (issue 9, items 4 and 5), one behaviour each: every bad value is a
400 naming the field, and nothing is saved."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from evaluations.inspectai.datasets import DatasetInvalid, dataset_parse
from evaluations.models import EvalTask, ModelCredential, RegisteredModel, Run, RunApproval
from evaluations.services.runs import cron_validate
from tests.support.factories import model_version, task_version
from tests.support.helpers import sign_in

pytestmark = pytest.mark.django_db


def _json(client, method, path, body):
    return client.generic(method, path, json.dumps(body), content_type="application/json",
                          HTTP_ACCEPT="application/json")


@pytest.fixture
def staff(uk_staff):
    return sign_in(Client(), uk_staff)


@pytest.fixture
def draft(exercise, uk_staff):
    from evaluations.services.runs import run_create

    return run_create(actor=uk_staff, exercise=exercise, options={"name": "Draft"},
                      models=[model_version(exercise=exercise, user=uk_staff)],
                      tasks=[task_version(exercise=exercise, user=uk_staff)])


# --- Runs ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample_ids", ["abc", [{"id": 1}], [None], [True], [""], ["x" * 201]])
def test_sample_ids_are_a_list_of_text_or_whole_numbers(staff, draft, sample_ids):
    response = _json(staff, "PATCH", f"/api/v1/runs/{draft.pk}/", {"sample_ids": sample_ids})
    assert response.status_code == 400
    assert "sample_ids" in response.json()["errors"]
    draft.refresh_from_db()
    assert draft.sample_ids == [] and draft.revision == 1


def test_sample_ids_of_text_and_numbers_are_kept_as_given(staff, draft):
    response = _json(staff, "PATCH", f"/api/v1/runs/{draft.pk}/", {"sample_ids": ["a-1", 7]})
    assert response.status_code == 200, response.json()
    draft.refresh_from_db()
    assert draft.sample_ids == ["a-1", 7]


def test_a_negative_cost_budget_is_refused(staff, draft):
    response = _json(staff, "PATCH", f"/api/v1/runs/{draft.pk}/", {"cost_budget": "-0.01"})
    assert response.status_code == 400
    assert "cost_budget" in response.json()["errors"]


@pytest.mark.parametrize(("cron", "says"), [
    ("61 * * * *", "minute field '61'"), ("0 24 * * *", "hour field '24'"), ("0 0 0 * *", "day of the month"),
    ("0 0 * 13 *", "month field '13'"), ("0 0 * * 8", "day of the week"), ("*/0 * * * *", "minute"),
    ("0 0 * *", "five fields"), ("a b c d e", "minute field 'a'"),
])
def test_a_cron_expression_is_parsed_field_by_field(cron, says):
    with pytest.raises(Exception) as caught:
        cron_validate(cron)
    assert says in str(caught.value)


def test_valid_cron_expressions_pass_as_django_celery_beat_reads_them():
    for cron in ("0 3 * * 1", "*/15 8-18 * * mon-fri", "0 0 1 jan,jul *", "30  2 * * *"):
        assert len(cron_validate(cron).split()) == 5


def test_a_recurring_run_with_a_bad_cron_is_refused_naming_cron(staff, draft):
    response = _json(staff, "PATCH", f"/api/v1/runs/{draft.pk}/", {
        "schedule": "recurring", "cron": "0 0 31 2 9", "approval_valid_until": "2099-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert "day of the week" in response.json()["errors"]["cron"][0]
    draft.refresh_from_db()
    assert draft.schedule == "now"


def test_epochs_have_a_sensible_maximum(staff, draft):
    response = _json(staff, "PATCH", f"/api/v1/runs/{draft.pk}/", {"epochs": 1_000_000})
    assert response.status_code == 400 and "epochs" in response.json()["errors"]


@pytest.fixture
def submitted(draft, uk_staff, us_approver):
    from evaluations.services.runs import run_submit

    run_submit(actor=uk_staff, run=draft)
    return sign_in(Client(), us_approver)


@pytest.mark.parametrize("revision", ["one", "1.5", True, {"n": 1}])
def test_approve_with_a_revision_that_is_not_a_whole_number_is_a_400(submitted, draft, revision):
    response = _json(submitted, "POST", f"/api/v1/runs/{draft.pk}/approve/", {"revision": revision})
    assert response.status_code == 400
    assert "revision" in response.json()["errors"]
    assert not RunApproval.objects.exists()


@pytest.mark.parametrize("revision", ["one", "1.5", "-1"])
def test_approve_page_with_a_revision_that_is_not_a_whole_number_is_refused(submitted, draft, revision):
    response = submitted.post(f"/runs/{draft.pk}/approve/", {"revision": revision})
    assert response.status_code == 200
    assert "revision" in response.context["form"].errors
    assert not RunApproval.objects.exists()


def test_a_reject_reason_of_a_megabyte_is_refused(submitted, draft):
    response = _json(submitted, "POST", f"/api/v1/runs/{draft.pk}/reject/", {"reason": "x" * 1_000_000})
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    draft.refresh_from_db()
    assert draft.state == "submitted"


# --- Models ---------------------------------------------------------------------------------------------------

@pytest.fixture
def model(exercise, uk_staff):
    from evaluations.services.registry import model_create

    return model_create(user=uk_staff, name="Gemma", exercises=[exercise], provider_model="openai-api/local/gemma",
                        base_url="https://models.example.org/v1")


@pytest.mark.parametrize("config", [{"max_tokens": 10**12}, {"max_tokens": 0}, {"top_k": 10**9},
                                    {"timeout": 10**7}, {"max_retries": 10**6}, {"stop_seqs": ["x"] * 100}])
def test_generation_settings_have_sensible_bounds(staff, model, config):
    response = _json(staff, "PATCH", f"/api/v1/models/{model.pk}/", {"config": config})
    assert response.status_code == 400
    assert "config" in response.json()["errors"]
    assert model.versions.count() == 1


@pytest.mark.parametrize("header", ["Host", "host", "Connection", "Keep-Alive", "Proxy-Authorization",
                                    "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
                                    "Content-Length"])
def test_an_extra_header_the_http_client_owns_is_refused(staff, model, header):
    response = _json(staff, "PATCH", f"/api/v1/models/{model.pk}/", {
        "api_key": "sk-test-0123456789", "extra_headers": {header: "x"}})
    assert response.status_code == 400
    assert header in response.json()["errors"]["extra_headers"][0]
    assert not ModelCredential.objects.exists()


def test_an_ordinary_extra_header_is_stored_with_the_key(staff, model):
    response = _json(staff, "PATCH", f"/api/v1/models/{model.pk}/", {
        "api_key": "sk-test-0123456789", "extra_headers": {"X-Api-Tenant": "uk"}})
    assert response.status_code == 200, response.json()
    assert ModelCredential.objects.get().header_names == ["X-Api-Tenant"]


def test_extra_headers_without_a_key_are_refused_not_ignored(staff, model):
    response = _json(staff, "PATCH", f"/api/v1/models/{model.pk}/", {"extra_headers": {"X-Api-Tenant": "uk"}})
    assert response.status_code == 400
    assert "extra_headers" in response.json()["errors"]


@pytest.mark.parametrize("base_url", ["http://[::1", "http://[::1]:99999/v1", "http://[fe80::1%eth0/v1",
                                      "https://[not-an-address]/v1"])
def test_a_malformed_base_url_is_a_400_naming_it(staff, exercise, base_url):
    response = _json(staff, "POST", "/api/v1/models/", {"name": "M", "exercises": [exercise.pk],
                                                        "model": "openai-api/local/m", "base_url": base_url})
    assert response.status_code == 400
    assert "base_url" in response.json()["errors"]
    assert not RegisteredModel.objects.exists()


def test_free_text_fields_have_a_length_limit_naming_them(staff, model, exercise):
    assert "notes" in _json(staff, "PATCH", f"/api/v1/models/{model.pk}/", {"notes": "x" * 10_001}).json()["errors"]
    response = _json(staff, "POST", "/api/v1/tasks/", {"name": "T", "exercises": [exercise.pk],
                                                       "registry_name": "arithmetic", "description": "x" * 10_001})
    assert "description" in response.json()["errors"]
    assert not EvalTask.objects.exists()


# --- Datasets ---------------------------------------------------------------------------------------------------

def _parse(content: bytes, name: str):
    return dataset_parse(io.BytesIO(content), filename=name)


def test_a_nul_in_a_csv_cell_is_refused_with_its_line_and_column():
    with pytest.raises(DatasetInvalid) as caught:
        _parse(b"input,target\nok,fine\nbad\x00input,t\n", "d.csv")
    assert caught.value.messages == ["Line 3, column input: The cell contains a NUL character; remove it."]


def test_a_jsonl_row_nested_past_the_limit_is_refused_with_its_line_and_column(settings):
    deep: object = 1
    for _ in range(settings.JSON_MAX_DEPTH + 1):
        deep = [deep]
    rows = [{"input": "q", "target": "a"}, {"input": "q", "target": "a", "metadata": {"x": deep}}]
    with pytest.raises(DatasetInvalid) as caught:
        _parse("\n".join(json.dumps(r) for r in rows).encode(), "d.jsonl")
    assert caught.value.messages[0].startswith("Line 2, column metadata: metadata.x")
    assert "nested more than" in caught.value.messages[0]


def test_a_jsonl_row_nested_past_pythons_recursion_limit_is_refused_not_a_crash():
    content = b'{"input": "q", "target": "a"}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    with pytest.raises(DatasetInvalid) as caught:
        _parse(content, "d.jsonl")
    assert caught.value.messages[0].startswith("Line 2")


def test_a_jsonl_row_with_a_nul_escape_is_refused_with_its_column():
    with pytest.raises(DatasetInvalid) as caught:
        _parse(b'{"input": "q\\u0000", "target": "a"}\n', "d.jsonl")
    assert caught.value.messages == ["Line 1, column input: input contains a NUL character; remove it."]


def test_a_nul_csv_cell_uploaded_through_the_api_is_a_400_and_saves_nothing(staff, exercise):
    response = staff.post("/api/v1/tasks/", {
        "name": "D", "exercises": [exercise.pk], "solver": "generate", "scorer": "includes",
        "dataset": SimpleUploadedFile("d.csv", b"input,target\nq\x00,a\n")}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "column input" in response.json()["errors"]["dataset"][0]
    assert not EvalTask.objects.exists()
    assert not Run.objects.exists()
