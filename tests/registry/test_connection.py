"""Test connection: one short generation through Inspect, executed by a real Celery worker."""

import pytest
from django.test import override_settings

from evaluations.models import ConnectionTest
from evaluations.services.registry import connection_test_request, credential_set
from tests.support.registry import api_client_for, make_model, openai_server  # noqa: F401
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LOOPBACK_ALLOWED = {"MODEL_ENDPOINT_ALLOWLIST": "127.0.0.1"}


def finished(test_id):
    return ConnectionTest.objects.filter(pk=test_id, status__in=["succeeded", "failed"]).first()


def test_connection_to_a_real_openai_compatible_server_reports_latency(redis_client, uk_staff, exercise, openai_server):  # noqa: F811 - pytest fixture
    base_url, key = openai_server
    with override_settings(MODEL_ENDPOINT_ALLOWLIST=["127.0.0.1"]):
        chat = make_model(uk_staff, exercise, name="Tiny chat", provider_model="openai-api/tiny/tiny-chat",
                          base_url=base_url, api_key=key)
        completions = make_model(uk_staff, exercise, name="Tiny base",
                                 provider_model="openai-api-completions/tiny/tiny-base", base_url=base_url,
                                 api_key=key, config={"max_tokens": 4})
        wrong = make_model(uk_staff, exercise, name="Tiny wrong key", provider_model="openai-api/tiny/tiny-chat",
                           base_url=base_url, api_key="sk-wrong-key-which-must-not-leak-987654")
    with celery_worker(extra_env=LOOPBACK_ALLOWED) as worker:
        rows = [connection_test_request(user=uk_staff, registered_model=m) for m in (chat, completions, wrong)]
        done = [wait_for(lambda r=r: finished(r.pk), timeout=90, message="the connection test") for r in rows]
        log = worker.log()
    ok_chat, ok_completions, failed = done
    assert ok_chat.status == "succeeded", ok_chat.error
    assert ok_chat.latency_ms is not None and ok_chat.output_excerpt == "OK"
    assert ok_completions.status == "succeeded", ok_completions.error
    assert failed.status == "failed"
    assert "sk-wrong-key-which-must-not-leak-987654" not in failed.error
    assert "[redacted]" in failed.error or "401" in failed.error
    assert "sk-wrong-key-which-must-not-leak" not in log and key not in log


def test_connection_to_mockllm_succeeds_offline(redis_client, uk_staff, exercise):
    model = make_model(uk_staff, exercise, name="Mock", provider_model="mockllm/model", base_url="")
    with celery_worker() as worker:
        row = connection_test_request(user=uk_staff, registered_model=model)
        done = wait_for(lambda: finished(row.pk), timeout=90, message="the mockllm connection test")
        assert worker.log()
    assert done.status == "succeeded", done.error
    assert done.output_excerpt == "OK"


def test_private_endpoint_is_refused_at_use_time_by_the_worker(redis_client, uk_staff, exercise, openai_server):  # noqa: F811 - pytest fixture
    base_url, key = openai_server
    with override_settings(MODEL_ENDPOINT_ALLOWLIST=["127.0.0.1"]):
        model = make_model(uk_staff, exercise, name="Loopback", provider_model="openai-api/tiny/t",
                           base_url=base_url, api_key=key)
    with celery_worker() as worker:  # this worker has no allowlist: loopback is refused when the test runs
        row = connection_test_request(user=uk_staff, registered_model=model)
        done = wait_for(lambda: finished(row.pk), timeout=90, message="the refused connection test")
        assert worker.log()
    assert done.status == "failed" and "loopback" in done.error


def test_api_action_enqueues_and_the_page_polls_the_result(redis_client, client, sign_in, uk_staff, us_staff, exercise):
    model = make_model(uk_staff, exercise, name="Mock", provider_model="mockllm/model", base_url="")
    api = api_client_for(uk_staff, sign_in)
    with celery_worker():
        response = api.post(f"/api/v1/models/{model.pk}/test-connection/")
        assert response.status_code == 202
        test_id = response.json()["id"]
        wait_for(lambda: finished(test_id), timeout=90, message="the API connection test")
    assert api.get(f"/api/v1/models/{model.pk}/test-connection/").json()["status"] == "succeeded"
    sign_in(client, uk_staff)
    fragment = client.get(f"/models/{model.pk}/connection-tests/{test_id}/").content.decode()
    assert "Connected" in fragment and "hx-get" not in fragment
    # US staff see the result but may not start a test on a UK model
    us_api = api_client_for(us_staff, sign_in)
    assert us_api.get(f"/api/v1/models/{model.pk}/test-connection/").status_code == 200
    assert us_api.post(f"/api/v1/models/{model.pk}/test-connection/").status_code == 403


def test_pending_connection_test_fragment_polls(client, sign_in, uk_staff, exercise):
    model = make_model(uk_staff, exercise, name="Mock", provider_model="mockllm/model", base_url="")
    credential_set(user=uk_staff, registered_model=model, api_key="unused-key-123456")
    row = ConnectionTest.objects.create(registered_model=model, model_version=model.current_version,
                                        requested_by=uk_staff)
    sign_in(client, uk_staff)
    fragment = client.get(f"/models/{model.pk}/connection-tests/{row.pk}/").content.decode()
    assert "hx-get" in fragment and "every 2s" in fragment
