"""SSRF through redirects and at run time, end to end through real Celery workers (real PostgreSQL, Redis and HTTP
servers; issue 9, items 1 and 2).

Redirects: the registered endpoint is a real server on 127.0.0.2 (allowlisted as 127.0.0.2/32: it stands for a
public host) that answers every request with a redirect (301/302/307/308; absolute, scheme-relative and
path-relative Location) to a recording server on 127.0.0.3 (not allowlisted, DEBUG off: an internal service).
The connection test, a run (first attempt and retry) and a model-graded scorer's grader never reach the recorder,
and no stored text, page or API answer holds a body canary.

At run time: a name that resolves to a public address when the model is registered and to a link-local one in the
worker (DNS patched in the worker process, the policy untouched) is refused for the connection test, a run item
and a grader."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from evaluations.models import ConnectionTest, EvalTask, Run, RunItem, SampleResult, TaskVersion
from evaluations.services import catalogue
from evaluations.services.registry import connection_test_request
from evaluations.services.runs import run_approve, run_create, run_item_retry
from tests.security.servers import CANARIES, PUBLIC_ALLOWLIST, ssrf_servers
from tests.support.fixture_tasks import FIXTURE_TASKS
from tests.support.leaks import database_leaks
from tests.support.registry import api_client_for, make_model
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KEY = "sk-ssrf-worker-key-3d7e1a9c5b"
HEADER = "gw-ssrf-worker-header-6f2a8d4c"
FAKE_DNS_DIR = Path(__file__).with_name("fake_dns")
FINISHED = ("succeeded", "failed", "partially_succeeded", "cancelled")


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return [c for c in CANARIES if c in text]


def connection_finished(test_id: int) -> ConnectionTest | None:
    return ConnectionTest.objects.filter(pk=test_id, status__in=["succeeded", "failed"]).first()


def echo_task(user: Any, exercise: Any) -> TaskVersion:
    eval_task = EvalTask.objects.create(name="echo", owner=user.organisation, created_by=user)
    eval_task.exercises.add(exercise)
    return TaskVersion.objects.create(eval_task=eval_task, number=1, kind="registry",
                                      registry_name=f"{FIXTURE_TASKS}@echo_task", args={"samples": 2},
                                      created_by=user)


def graded_task(user: Any, exercise: Any, grader: Any) -> TaskVersion:
    task = catalogue.task_create_dataset(
        user=user, name=f"Graded by {grader.name}", exercises=[exercise], scorer="model_graded_qa",
        grader_model_version=grader.current_version.pk,
        upload=SimpleUploadedFile("d.csv", b"id,input,target\na,What is 2+2?,4\n"))
    version = task.current_version
    assert version is not None
    return version


def approved(run: Run, *approvers: Any) -> Run:
    for approver in approvers:
        run_approve(actor=approver, run=run)
    run.refresh_from_db()
    return run


def run_finished(run: Run):  # type: ignore[no-untyped-def]
    return lambda: Run.objects.filter(pk=run.pk, state__in=FINISHED).first()


def shown_to_staff(client: Any, api: Any, run: Run) -> str:
    """Everything a staff member can read about the run: pages, partials and API answers."""
    texts = [client.get(f"/runs/{run.pk}/").content.decode(), client.get(f"/runs/{run.pk}/items/").content.decode(),
             client.get(f"/runs/{run.pk}/samples/").content.decode(),
             json.dumps(api.get(f"/api/v1/runs/{run.pk}/").json()),
             json.dumps(api.get(f"/api/v1/runs/{run.pk}/samples/").json())]
    for sample in SampleResult.objects.filter(item__run=run):
        texts.append(client.get(f"/samples/{sample.pk}/").content.decode())
        texts.append(json.dumps(api.get(f"/api/v1/samples/{sample.pk}/").json()))
    return "\n".join(texts)


def test_the_connection_test_follows_no_redirect_and_shows_none_of_the_internal_answer(
        redis_client, client, sign_in, uk_staff, exercise):
    with ssrf_servers() as servers:
        variants = servers.variants()
        with override_settings(MODEL_ENDPOINT_ALLOWLIST=[PUBLIC_ALLOWLIST]):
            models = [make_model(uk_staff, exercise, name=f"Redirect {s.code} {s.location}",
                                 provider_model="openai-api/public/m", base_url=s.base_url, api_key=KEY,
                                 extra_headers={"X-Gateway-Token": HEADER}) for s in variants]
        with celery_worker(extra_env={"MODEL_ENDPOINT_ALLOWLIST": PUBLIC_ALLOWLIST, "DEBUG": "0"}) as worker:
            rows = [connection_test_request(user=uk_staff, registered_model=m) for m in models]
            done = [wait_for(lambda r=r: connection_finished(r.pk), timeout=120, message="a connection test")
                    for r in rows]
            worker_log = worker.log()
        assert servers.reached_internal() == [], "the internal server was reached"
        assert servers.followed_same_origin() == 0
        assert all(len(s.requests) == 1 for s in variants)  # each registered endpoint was asked once
    api = api_client_for(uk_staff, sign_in)
    sign_in(client, uk_staff)
    for model, row, server in zip(models, done, variants, strict=True):
        assert row.status == "failed"
        assert f"redirect (HTTP {server.code})" in row.error and len(row.error) <= 300, row.error
        assert KEY not in row.error and HEADER not in row.error
        assert not leaks(row.error)
        assert not leaks(json.dumps(api.get(f"/api/v1/models/{model.pk}/test-connection/").json()))
        assert not leaks(client.get(f"/models/{model.pk}/connection-tests/{row.pk}/").content)
        assert not leaks(client.get(f"/models/{model.pk}/").content)
    assert not leaks(worker_log)
    assert database_leaks(CANARIES) == []


def test_a_run_its_retry_and_a_model_graded_scorer_follow_no_redirect(
        redis_client, client, sign_in, tmp_path, settings, exercise, uk_staff, uk_approver, us_approver):
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    with ssrf_servers() as servers:
        model_endpoint = servers.redirector(302, "absolute")
        grader_endpoint = servers.redirector(307, "scheme-relative")
        with override_settings(MODEL_ENDPOINT_ALLOWLIST=[PUBLIC_ALLOWLIST]):
            redirecting = make_model(uk_staff, exercise, name="Redirecting model",
                                     provider_model="openai-api/public/m", base_url=model_endpoint.base_url,
                                     api_key=KEY, extra_headers={"X-Gateway-Token": HEADER},
                                     config={"max_retries": 0, "timeout": 10})
            grader = make_model(uk_staff, exercise, name="Redirecting grader",
                                provider_model="openai-api/public/grader", base_url=grader_endpoint.base_url,
                                api_key=KEY, extra_headers={"X-Gateway-Token": HEADER},
                                config={"max_retries": 0, "timeout": 10})
            mock = make_model(uk_staff, exercise, name="Mock", provider_model="mockllm/model", base_url="")
        echo, graded = echo_task(uk_staff, exercise), graded_task(uk_staff, exercise, grader)
        run = run_create(actor=uk_staff, exercise=exercise,
                         models=[redirecting.current_version, mock.current_version], tasks=[echo, graded],
                         options={"fail_on_error": 0}, submit=True)
        env = {"MEDIA_ROOT": str(media), "MODEL_ENDPOINT_ALLOWLIST": PUBLIC_ALLOWLIST, "DEBUG": "0"}
        with celery_worker(extra_env=env) as worker:
            approved(run, uk_approver, us_approver)
            wait_for(run_finished(run), timeout=240, message="the run to finish")
            first = {i.pk: (i.model_version_id, i.task_version_id, i.state, i.error) for i in run.items.all()}
            retried = run.items.get(model_version=redirecting.current_version, task_version=echo)
            assert retried.state == RunItem.State.FAILED, retried.error
            run_item_retry(actor=uk_approver, item=retried)
            wait_for(run_finished(run), timeout=240, message="the retried run to finish")
            worker_log = worker.log()
        assert servers.reached_internal() == [], "the internal server was reached"
        assert servers.followed_same_origin() == 0
        assert model_endpoint.requests and grader_endpoint.requests  # the model and the grader were asked
        for request in [*model_endpoint.requests, *grader_endpoint.requests]:
            assert request.headers["x-gateway-token"] == HEADER  # the header went to the registered host only
    retried.refresh_from_db()
    assert retried.attempts == 2 and retried.state == RunItem.State.FAILED
    items = {(i.model_version_id, i.task_version_id): i for i in run.items.all()}
    graded_by_mock = items[(mock.current_version.pk, graded.pk)]
    echo_by_mock = items[(mock.current_version.pk, echo.pk)]
    assert echo_by_mock.state == RunItem.State.SUCCEEDED, echo_by_mock.error
    assert graded_by_mock.state == RunItem.State.FAILED, first
    errors = [i.error for i in items.values()] + list(
        SampleResult.objects.filter(item__run=run).exclude(error="").values_list("error", flat=True))
    assert any("redirect (HTTP 302)" in e for e in errors), errors
    assert any("redirect (HTTP 307)" in e for e in errors), errors
    assert all(len(e) <= 500 for e in errors)
    assert not [e for e in errors if leaks(e) or KEY in e or HEADER in e]
    api = api_client_for(uk_staff, sign_in)
    sign_in(client, uk_staff)
    assert not leaks(shown_to_staff(client, api, run))
    assert not leaks(worker_log)
    assert database_leaks(CANARIES) == []


# --- DNS that changes its answer after registration -------------------------------------------------------------

REBINDING_NAME = "models.rebinding.example"


@pytest.fixture
def public_at_registration(monkeypatch):
    """This (web) process: the name resolves to a public address, so registration accepts it."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(host).rstrip(".").lower() == REBINDING_NAME:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def link_local_worker_env(media: Path) -> dict[str, str]:
    """The worker process: tests/security/fake_dns/sitecustomize.py patches socket.getaddrinfo (the resolver the
    guard calls), so the same name now answers with the cloud metadata address. The policy is not touched."""
    return {"MEDIA_ROOT": str(media), "DEBUG": "0", "MODEL_ENDPOINT_ALLOWLIST": "",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(FAKE_DNS_DIR), os.environ.get("PYTHONPATH")])),
            "PORTAL_TEST_FAKE_DNS": json.dumps({REBINDING_NAME: ["169.254.169.254"]})}


def test_a_name_public_at_registration_and_link_local_at_run_time_is_refused_in_the_worker(
        public_at_registration, redis_client, tmp_path, settings, exercise, uk_staff, uk_approver, us_approver):
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    with override_settings(MODEL_ENDPOINT_ALLOWLIST=[], DEBUG=False):
        rebinding = make_model(uk_staff, exercise, name="Rebinding", provider_model="openai-api/public/m",
                               base_url=f"https://{REBINDING_NAME}/v1", api_key=KEY,
                               config={"max_retries": 0, "timeout": 10})
        mock = make_model(uk_staff, exercise, name="Mock", provider_model="mockllm/model", base_url="")
    assert rebinding.current_version.base_url == f"https://{REBINDING_NAME}/v1"  # accepted: it was public then
    echo, graded = echo_task(uk_staff, exercise), graded_task(uk_staff, exercise, rebinding)
    run = run_create(actor=uk_staff, exercise=exercise, models=[rebinding.current_version, mock.current_version],
                     tasks=[echo, graded], options={"fail_on_error": 0}, submit=True)
    with celery_worker(extra_env=link_local_worker_env(media)) as worker:
        row = connection_test_request(user=uk_staff, registered_model=rebinding)
        approved(run, uk_approver, us_approver)
        tested = wait_for(lambda: connection_finished(row.pk), timeout=120, message="the connection test")
        wait_for(run_finished(run), timeout=240, message="the run to finish")
        assert "fake DNS installed" in worker.log()
    assert tested.status == "failed"
    assert "link-local" in tested.error and "169.254.169.254" in tested.error, tested.error
    items = {(i.model_version_id, i.task_version_id): i for i in run.items.all()}
    for key in [(rebinding.current_version.pk, echo.pk), (rebinding.current_version.pk, graded.pk),
                (mock.current_version.pk, graded.pk)]:  # the model itself, and the grader of a mock's answers
        item = items[key]
        assert item.state == RunItem.State.FAILED
        assert "link-local" in item.error and "169.254.169.254" in item.error, item.error
        assert not SampleResult.objects.filter(item=item, error="").exists()
    assert items[(mock.current_version.pk, echo.pk)].state == RunItem.State.SUCCEEDED
