"""The branches wired together: runs of the registry's built-in and uploaded-dataset evaluations on registered
mockllm models, executed by real workers offline; run choices through the access layer; the demo flow."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations.models import (
    EvalTask,
    ModelVersion,
    RegisteredModel,
    Run,
    RunItem,
    SampleResult,
    TaskVersion,
)
from evaluations.services.catalogue import task_create_dataset
from evaluations.services.runs import run_approve, run_create, run_item_retry
from tests.support.workers import celery_worker, wait_for

FINISHED = ("succeeded", "failed", "partially_succeeded", "cancelled")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def worker_env(settings) -> dict[str, str]:
    return {"MEDIA_ROOT": str(settings.MEDIA_ROOT), "HF_HUB_OFFLINE": "1"}


def demo_model(exercise, user, name: str = "Demo mock model", **config) -> ModelVersion:  # type: ignore[no-untyped-def]
    registered = RegisteredModel.objects.create(name=name, owner=user.organisation, created_by=user)
    registered.exercises.add(exercise)
    return ModelVersion.objects.create(registered_model=registered, number=1, provider_model="mockllm/model",
                                       config=config or {"max_tokens": 16}, max_connections=4, created_by=user)


def builtin_task(exercise, user, registry_name: str = "arithmetic") -> TaskVersion:  # type: ignore[no-untyped-def]
    eval_task = EvalTask.objects.create(name=registry_name, owner=user.organisation, created_by=user)
    eval_task.exercises.add(exercise)
    return TaskVersion.objects.create(eval_task=eval_task, number=1, kind=TaskVersion.Kind.REGISTRY,
                                      registry_name=registry_name, args={}, created_by=user)


def approve(run, uk_approver, us_approver) -> Run:  # type: ignore[no-untyped-def]
    run_approve(actor=uk_approver, run=run)
    run_approve(actor=us_approver, run=run)
    run.refresh_from_db()
    return run


def finished(run: Run):  # type: ignore[no-untyped-def]
    def check():  # type: ignore[no-untyped-def]
        run.refresh_from_db()
        return run if run.state in FINISHED else None
    return check


# --- Built-in and uploaded evaluations through a real worker -------------------------------------------------

@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_builtin_arithmetic_evaluation_runs_on_the_mock_model_offline_with_real_scores(
        settings, exercise, uk_staff, uk_approver, us_approver, redis_client):
    mv, tv = demo_model(exercise, uk_staff), builtin_task(exercise, uk_staff)
    with celery_worker(extra_env=worker_env(settings)):
        run = approve(run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv], options={},
                                 submit=True), uk_approver, us_approver)
        wait_for(finished(run), timeout=180, message="the run to finish")
    item = run.items.get()
    assert run.state == "succeeded", item.error
    rows = SampleResult.objects.filter(item=item)
    assert rows.count() == 10 and not rows.exclude(error="").exists()
    assert all(r.input_tokens > 0 for r in rows)
    sum_row = rows.get(sample_id="arith-3")  # 6 * 7: the demo mock computes the sum
    assert sum_row.output.strip() == "42" and sum_row.score == 1.0
    assert item.metrics and item.done_samples == 10


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_uploaded_dataset_evaluation_runs_on_the_mock_model_through_a_worker(
        settings, exercise, uk_staff, uk_approver, us_approver, redis_client):
    upload = SimpleUploadedFile("qa.csv", b"id,input,target\nq1,Say OK,OK\nq2,Say OK again,OK\nq3,Say no,no\n",
                                content_type="text/csv")
    eval_task = task_create_dataset(user=uk_staff, name="Uploaded QA", exercises=[exercise], upload=upload,
                                    solver="generate", scorer="includes")
    tv = eval_task.current_version
    assert tv is not None and tv.kind == TaskVersion.Kind.DATASET
    mv = demo_model(exercise, uk_staff)
    with celery_worker(extra_env=worker_env(settings)):
        run = approve(run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv], options={},
                                 submit=True), uk_approver, us_approver)
        wait_for(finished(run), timeout=180, message="the run to finish")
    item = run.items.get()
    assert run.state == "succeeded", item.error
    scores = dict(SampleResult.objects.filter(item=item).values_list("sample_id", "score"))
    assert scores == {"q1": 1.0, "q2": 1.0, "q3": 0.0}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_retry_of_a_stopped_builtin_item_runs_only_its_unfinished_samples_in_a_worker(
        settings, exercise, uk_staff, uk_approver, us_approver, redis_client):
    mv, tv = demo_model(exercise, uk_staff), builtin_task(exercise, uk_staff)
    # a token budget of 1 stops the item after its first samples (Inspect cancels; the log says "cancelled")
    with celery_worker(extra_env=worker_env(settings)):
        run = approve(run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv],
                                 options={"epochs": 30, "max_samples": 1, "token_budget": 1}, submit=True),
                      uk_approver, us_approver)
        wait_for(finished(run), timeout=180, message="the run to stop")
        item = run.items.get()
        assert item.state == RunItem.State.FAILED and "token budget" in item.error
        first = set(SampleResult.objects.filter(item=item, error="").values_list("sample_id", "epoch"))
        assert 0 < len(first) < 300
        Run.objects.filter(pk=run.pk).update(token_budget=None)
        run_item_retry(actor=uk_staff, item=item)
        wait_for(finished(run), timeout=240, message="the retried run to finish")
    item.refresh_from_db()
    assert run.state == "succeeded", item.error
    assert SampleResult.objects.filter(item=item).count() == 300
    assert SampleResult.objects.filter(item=item).exclude(error="").count() == 0
    assert item.previous_log_path and item.log_path != item.previous_log_path
    # Inspect's eval_retry rebuilt the built-in task by name from the stopped log: the new log names it
    from inspect_ai.log import read_eval_log

    from evaluations.services.execution import local_path

    retried = read_eval_log(local_path(item.log_path), header_only=True)
    assert retried.eval.task_registry_name == "arithmetic" and retried.status == "success"
    assert retried.results is not None and retried.results.completed_samples == 300


# --- Choices through the access layer ------------------------------------------------------------------------

@pytest.mark.django_db
def test_run_create_refuses_archived_foreign_and_invisible_models_and_tasks(
        exercise, uk_staff, us_staff, uk_aisi):
    from evaluations.models import Exercise

    mv, tv = demo_model(exercise, uk_staff), builtin_task(exercise, uk_staff)
    archived = demo_model(exercise, uk_staff, name="Old model")
    RegisteredModel.objects.filter(pk=archived.registered_model_id).update(archived_at=timezone.now())
    archived.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        run_create(actor=uk_staff, exercise=exercise, models=[archived], tasks=[tv], options={})
    assert "Old model is archived" in str(refused.value)

    old_task = builtin_task(exercise, uk_staff, "capital_cities")
    EvalTask.objects.filter(pk=old_task.eval_task_id).update(archived_at=timezone.now())
    old_task.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[old_task], options={})
    assert "capital_cities is archived" in str(refused.value)

    # a model of an exercise the US institute takes no part in: invisible to US staff, reported as unknown
    private = Exercise.objects.create(name="UK only", status=Exercise.Status.ACTIVE)
    private.institutes.add(uk_aisi)
    hidden = demo_model(private, uk_staff, name="UK private model")
    with pytest.raises(ValidationError) as refused:
        run_create(actor=us_staff, exercise=exercise, models=[hidden], tasks=[tv], options={})
    assert "does not exist" in str(refused.value) and "UK private model" not in str(refused.value)
    # visible to its owner but not in this exercise
    with pytest.raises(ValidationError) as refused:
        run_create(actor=uk_staff, exercise=exercise, models=[hidden], tasks=[tv], options={})
    assert "not registered in this exercise" in str(refused.value)
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_the_runs_api_refuses_an_archived_or_invisible_model_with_a_clear_message(
        exercise, uk_staff, us_staff, uk_aisi):
    from evaluations.models import Exercise
    from tests.support.helpers import sign_in

    tv = builtin_task(exercise, uk_staff)
    archived = demo_model(exercise, uk_staff, name="Old model")
    RegisteredModel.objects.filter(pk=archived.registered_model_id).update(archived_at=timezone.now())
    client = sign_in(APIClient(), uk_staff)
    response = client.post("/api/v1/runs/", {"exercise": exercise.pk, "models": [archived.registered_model_id],
                                             "tasks": [tv.eval_task_id]}, format="json")
    assert response.status_code == 400 and "Old model is archived" in str(response.json())

    private = Exercise.objects.create(name="UK only", status=Exercise.Status.ACTIVE)
    private.institutes.add(uk_aisi)
    hidden = demo_model(private, uk_staff, name="UK private model")
    response = sign_in(APIClient(), us_staff).post("/api/v1/runs/", {
        "exercise": exercise.pk, "models": [hidden.registered_model_id], "tasks": [tv.eval_task_id]}, format="json")
    assert response.status_code == 400 and "UK private model" not in str(response.json())
    assert not Run.objects.exists()


# --- The demo: two models, both approvers, a worker, live progress -------------------------------------------

@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_demo_uk_staff_schedules_the_demo_evaluation_on_two_models_both_approve_and_a_worker_runs_it(
        settings, redis_client):
    from accounts.models import User
    from evaluations.models import Exercise
    from tests.support.helpers import sign_in

    settings.DEBUG = False
    call_command("seed_demo", "--json", stdout=open("/dev/null", "w"))  # noqa: SIM115
    exercise = Exercise.objects.get(name="Demo Joint Exercise")
    staff, uk_approver, us_approver, us_staff = (User.objects.get(email=f"{who}@example.org") for who in (
        "uk.staff", "uk.approver", "us.approver", "us.staff"))
    uk = sign_in(APIClient(), staff)
    models = [m for m in uk.get(f"/api/v1/models/?exercise={exercise.pk}").json()["results"]
              if m["model"] == "mockllm/model"]
    tasks = {t["name"]: t for t in uk.get(f"/api/v1/tasks/?exercise={exercise.pk}").json()["results"]}
    assert len(models) == 2 and "Arithmetic (built-in)" in tasks
    with celery_worker(extra_env=worker_env(settings)):
        created = uk.post("/api/v1/runs/", {
            "exercise": exercise.pk, "models": [m["id"] for m in models],
            "tasks": [tasks["Arithmetic (built-in)"]["id"]], "epochs": 20, "submit": True}, format="json")
        assert created.status_code == 201, created.json()
        run_id = created.json()["id"]
        assert sign_in(APIClient(), uk_approver).post(f"/api/v1/runs/{run_id}/approve/").status_code == 200
        assert sign_in(APIClient(), us_approver).post(f"/api/v1/runs/{run_id}/approve/").json()["status"] == "queued"
        # live progress: the run's JSON shows samples done while it is still running
        us = sign_in(APIClient(), us_staff)

        def progressing():  # type: ignore[no-untyped-def]
            body = us.get(f"/api/v1/runs/{run_id}/").json()
            return body if body["status"] == "running" and any(
                (i["progress"] or {}).get("done", 0) > 0 for i in body["items"]) else None

        wait_for(progressing, timeout=120, message="live progress of the running run")
        run = wait_for(lambda: Run.objects.filter(pk=run_id, state__in=FINISHED).first(), timeout=240,
                       message="the demo run to finish")
    assert run.state == "succeeded", [i.error for i in run.items.all()]
    body = us.get(f"/api/v1/runs/{run_id}/").json()
    assert len(body["items"]) == 2 and all(i["status"] == "succeeded" for i in body["items"])
    samples = us.get(f"/api/v1/runs/{run_id}/samples/").json()
    assert samples["count"] == 400
