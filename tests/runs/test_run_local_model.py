"""A real small model end to end through the portal: registered, submitted through the API, approved by a UK and
a US approver through the API, executed by a real worker, samples ingested with real output and token counts."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from evaluations.models import EvalTask, ModelVersion, RegisteredModel, Run, SampleResult, TaskVersion
from evaluations.services.registry import credential_set
from tests.support.fixture_tasks import FIXTURE_TASKS
from tests.support.model_server import LLAMA_MODEL, llama_server  # noqa: F401 - the session fixture
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def api(user) -> APIClient:  # type: ignore[no-untyped-def]
    from tests.support.helpers import sign_in

    return sign_in(APIClient(), user)


def _register(exercise, user, base_url):  # type: ignore[no-untyped-def]
    registered = RegisteredModel.objects.create(name="gemma3-270m", owner=user.organisation, created_by=user)
    registered.exercises.add(exercise)  # no credential: a keyless local server needs none
    ModelVersion.objects.create(registered_model=registered, number=1, provider_model=LLAMA_MODEL,
                                base_url=base_url, max_connections=1, created_by=user,
                                config={"max_tokens": 8, "temperature": 0.0, "max_retries": 1, "timeout": 60})
    eval_task = EvalTask.objects.create(name="completion", owner=user.organisation, created_by=user)
    eval_task.exercises.add(exercise)
    TaskVersion.objects.create(eval_task=eval_task, number=1, kind="registry",
                               registry_name=f"{FIXTURE_TASKS}@completion_task", created_by=user)
    return registered, eval_task


def test_a_runs_token_budget_stops_its_item(
        llama_server,  # noqa: F811
        settings, tmp_path, exercise, uk_staff, uk_approver, us_approver, redis_client):
    settings.MEDIA_ROOT = tmp_path / "media"
    registered, eval_task = _register(exercise, uk_staff, llama_server.base_url)
    # the key comes from the registered model's credential; the worker checks the endpoint before use, and the
    # local server's loopback address is allowed only because it is allowlisted (DEBUG is off)
    env = {"MEDIA_ROOT": str(settings.MEDIA_ROOT), "MODEL_ENDPOINT_ALLOWLIST": "127.0.0.1"}
    with celery_worker(extra_env=env):
        created = api(uk_staff).post("/api/v1/runs/", {
            "exercise": exercise.pk, "models": [registered.pk], "tasks": [eval_task.pk], "submit": True,
            "token_budget": 1, "max_samples": 1,
        }, format="json").json()
        api(uk_approver).post(f"/api/v1/runs/{created['id']}/approve/")
        api(us_approver).post(f"/api/v1/runs/{created['id']}/approve/")
        run = wait_for(lambda: Run.objects.filter(pk=created["id"], state__in=["succeeded", "failed",
                                                                                "partially_succeeded"]).first(),
                       timeout=180, message="the run to finish")
    item = run.items.get()
    assert run.state == "failed" and item.state == "failed"
    assert "token budget" in item.error


def test_gemma_run_through_the_api_is_approved_executed_and_ingested(
        llama_server,  # noqa: F811
        settings, tmp_path, exercise, uk_staff, uk_approver, us_approver, redis_client):
    settings.MEDIA_ROOT = tmp_path / "media"
    registered = RegisteredModel.objects.create(name="gemma3-270m", owner=uk_staff.organisation, created_by=uk_staff)
    registered.exercises.add(exercise)
    ModelVersion.objects.create(registered_model=registered, number=1, provider_model=LLAMA_MODEL,
                                base_url=llama_server.base_url, max_connections=1, created_by=uk_staff,
                                config={"max_tokens": 8, "temperature": 0.0, "max_retries": 1, "timeout": 60})
    eval_task = EvalTask.objects.create(name="completion", owner=uk_staff.organisation, created_by=uk_staff)
    eval_task.exercises.add(exercise)
    TaskVersion.objects.create(eval_task=eval_task, number=1, kind="registry",
                               registry_name=f"{FIXTURE_TASKS}@completion_task", created_by=uk_staff)
    credential_set(user=uk_staff, registered_model=registered, api_key="local-not-checked")
    # no LLAMACPP_API_KEY: the key is the registered credential; loopback allowlisted for the worker's check
    env = {"MEDIA_ROOT": str(settings.MEDIA_ROOT), "MODEL_ENDPOINT_ALLOWLIST": "127.0.0.1"}
    with celery_worker(extra_env=env):
        created = api(uk_staff).post("/api/v1/runs/", {
            "exercise": exercise.pk, "models": [registered.pk], "tasks": [eval_task.pk], "submit": True,
        }, format="json")
        assert created.status_code == 201, created.json()
        run_id = created.json()["id"]
        assert created.json()["status"] == "submitted"
        assert api(uk_approver).post(f"/api/v1/runs/{run_id}/approve/").status_code == 200
        assert api(us_approver).post(f"/api/v1/runs/{run_id}/approve/").json()["status"] == "queued"
        run = wait_for(lambda: Run.objects.filter(pk=run_id, state__in=["succeeded", "failed",
                                                                          "partially_succeeded"]).first(),
                       timeout=180, message="the run to finish")
    item = run.items.get()
    assert run.state == "succeeded", item.error
    samples = list(SampleResult.objects.filter(item=item))
    assert len(samples) == 2
    for sample in samples:
        assert sample.output.strip() and sample.input_tokens > 0 and 0 < sample.output_tokens <= 8
    assert item.input_tokens > 0 and item.output_tokens > 0
    body = api(us_approver).get(f"/api/v1/runs/{run_id}/").json()
    assert body["items"][0]["log_url"] and body["items"][0]["metrics"]
