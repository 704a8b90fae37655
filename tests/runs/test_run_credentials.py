"""A run uses the registered model's encrypted credential (no environment variable), and its canary API key and
extra header value reach the model server but not the .eval log, the database, the worker's log or the Redis
messages."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from evaluations.models import Run, SampleResult, TaskVersion
from evaluations.services.registry import model_create
from evaluations.services.runs import run_approve, run_create
from tests.engine.test_credentials import FakeOpenAI
from tests.support.fixture_tasks import FIXTURE_TASKS
from tests.support.leaks import database_leaks, leaks
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CANARY_KEY = "sk-CANARY-run-4e8a1c9f7b3d5e2a6c0f"
CANARY_HEADER = "gw-CANARY-run-9d2b7f4a1e6c3b8d"


@pytest.fixture
def model_server():
    server = FakeOpenAI()
    server.flaky = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def redis_leaks(redis_client, canaries: list[str]) -> list[str]:
    """Every value of every key in the suite's Redis db (queues, markers, results), raw."""
    found: list[str] = []
    for key in redis_client.scan_iter("*"):
        kind = redis_client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            values = [redis_client.get(key)]
        elif kind == "list":
            values = redis_client.lrange(key, 0, -1)
        elif kind == "hash":
            values = list(redis_client.hgetall(key).values())
        elif kind == "set":
            values = list(redis_client.smembers(key))
        elif kind == "zset":
            values = redis_client.zrange(key, 0, -1)
        else:
            values = []
        found += leaks(key, canaries)
        for value in values:
            found += leaks(value if isinstance(value, bytes | str) else str(value), canaries)
    return found


def test_a_run_sends_the_registered_credential_and_its_canaries_leak_nowhere(
        model_server, tmp_path, exercise, uk_staff, uk_approver, us_approver, redis_client):
    media = tmp_path / "media"
    canaries = [CANARY_KEY, CANARY_HEADER]
    base_url = f"http://127.0.0.1:{model_server.server_address[1]}/v1"
    with override_settings(MODEL_ENDPOINT_ALLOWLIST=["127.0.0.1"], MEDIA_ROOT=media):
        registered = model_create(user=uk_staff, name="Gateway model", exercises=[exercise],
                                  provider_model="openai-api/gateway/some-model", base_url=base_url,
                                  config={"max_retries": 0, "timeout": 10}, max_connections=2,
                                  api_key=CANARY_KEY, extra_headers={"X-Gateway-Token": CANARY_HEADER})
        from evaluations.models import EvalTask

        eval_task = EvalTask.objects.create(name="echo", owner=uk_staff.organisation, created_by=uk_staff)
        eval_task.exercises.add(exercise)
        tv = TaskVersion.objects.create(eval_task=eval_task, number=1, kind="registry",
                                        registry_name=f"{FIXTURE_TASKS}@echo_task", args={"samples": 3},
                                        created_by=uk_staff)
        mv = registered.current_version
        assert mv is not None
        run = run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv], options={}, submit=True)
        run_approve(actor=uk_approver, run=run)
        run_approve(actor=us_approver, run=run)
        # the item's message waits on the queue (no worker yet): ids only, no secret
        assert redis_client.llen(settings.CELERY_TASK_DEFAULT_QUEUE) >= 1
        assert redis_leaks(redis_client, canaries) == []
        env = {"MEDIA_ROOT": str(media), "MODEL_ENDPOINT_ALLOWLIST": "127.0.0.1"}
        with celery_worker(extra_env=env) as worker:
            wait_for(lambda: Run.objects.filter(pk=run.pk, state__in=["succeeded", "failed",
                                                                      "partially_succeeded"]).exists(),
                     timeout=180, message="the run to finish")
            worker_log = worker.log()
            assert redis_leaks(redis_client, canaries) == []
    run.refresh_from_db()
    item = run.items.get()
    assert run.state == "succeeded", item.error
    # the key and the header came from the registry's encrypted credential, and reached the server
    assert model_server.seen and all(auth == f"Bearer {CANARY_KEY}" and header == CANARY_HEADER
                                     for auth, header, _ in model_server.seen)
    assert sorted(SampleResult.objects.filter(item=item).values_list("output", flat=True)) == [
        "word0", "word1", "word2"]
    # ...and nowhere else
    log_file = Path(media) / item.log_path
    with zipfile.ZipFile(log_file) as zf:
        log_bytes = b"".join(zf.read(name) for name in zf.namelist())
    assert log_bytes and not leaks(log_bytes, canaries)
    assert not leaks(log_file.read_bytes(), canaries)
    assert "run_item_execute" in worker_log and not leaks(worker_log, canaries)
    assert database_leaks(canaries) == []
    assert "LLAMACPP_API_KEY" not in worker.env
