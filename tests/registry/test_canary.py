"""A canary credential set through the UI and through the API must appear nowhere in clear text: not in any page
or API response any role can reach, not in any text/json/bytea column of any table, not in the log output (this
process and a real worker's log file), and not in the Celery message bodies on the Redis queue."""

import logging

import pytest
from django.conf import settings
from django.test import override_settings

from evaluations.models import ConnectionTest, RegisteredModel
from tests.support.leaks import database_leaks, leaks, queue_leaks
from tests.support.registry import api_client_for, errors_of, openai_server  # noqa: F401
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CANARY_UI = "sk-CANARY-ui-7f3a9c1e5b2d4f6a8c0e"
CANARY_PATCH = "sk-CANARY-patch-1b3d5f7a9c2e4b6d8f0a"
CANARY_HEADER = "hv-CANARY-header-0a9b8c7d6e5f4a3b"
ACTORS = ["uk_staff", "uk_approver", "us_staff", "us_approver", "admin_user", "partner_viewer", "other_partner_viewer"]


def all_pages(world):
    m1, m2, task = world["m1"], world["m2"], world["task"]
    ui = ["/", "/models/", "/models/?q=tiny", f"/models/{m1}/", f"/models/{m2}/", f"/models/{m1}/edit/",
          f"/models/{m2}/edit/", f"/models/{m1}/credential/", f"/models/{m2}/credential/", "/models/new/",
          "/tasks/", f"/tasks/{task}/", "/tasks/new/dataset/", "/tasks/catalogue/?q=arith"]
    ui += [f"/models/{m}/connection-tests/{t}/" for m, t in world["tests"]]
    api = ["/api/v1/models/", f"/api/v1/models/{m1}/", f"/api/v1/models/{m2}/", f"/api/v1/models/{m1}/test-connection/",
           f"/api/v1/models/{m2}/test-connection/", "/api/v1/tasks/", f"/api/v1/tasks/{task}/", "/api/schema/"]
    return ui, api


def test_canary_credentials_are_nowhere_in_clear_text(request, client, sign_in, redis_client, caplog, uk_staff,
                                                      exercise, openai_server):  # noqa: F811 - pytest fixture
    caplog.set_level(logging.DEBUG)
    for name in ACTORS:
        request.getfixturevalue(name)
    base_url, server_key = openai_server
    canaries = [CANARY_UI, CANARY_PATCH, CANARY_HEADER, server_key]
    redis_client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)

    with override_settings(MODEL_ENDPOINT_ALLOWLIST=["127.0.0.1"]):
        # 1. through the UI: a model registered with a key and an extra header
        sign_in(client, uk_staff)
        response = client.post("/models/new/", {
            "name": "Tiny one", "exercises": [exercise.pk], "provider_model": "openai-api/tiny/one",
            "base_url": base_url, "max_connections": 1, "api_key": CANARY_UI, "extra_headers": f"X-Team: {CANARY_HEADER}"})
        assert response.status_code == 302, errors_of(response)
        m1 = RegisteredModel.objects.get(name="Tiny one")
        # 2. through the API: a second model with the server's key, and a replaced key for the first
        api = api_client_for(uk_staff, sign_in)
        created = api.post("/api/v1/models/", {"exercise": exercise.pk, "name": "Tiny two", "model": "openai-api/tiny/two",
                                               "base_url": base_url, "api_key": server_key, "config": {"max_tokens": 4}},
                           format="json")
        assert created.status_code == 201
        assert not leaks(created.content, canaries)
        patched = api.patch(f"/api/v1/models/{m1.pk}/", {"api_key": CANARY_PATCH}, format="json")
        assert patched.status_code == 200 and not leaks(patched.content, canaries)
        m2 = created.json()["id"]
        # a form re-rendered with an error must not echo the key or the header values
        refused = client.post("/models/new/", {
            "name": "Refused", "exercises": [exercise.pk], "provider_model": "nosuch/provider", "max_connections": 1,
            "api_key": CANARY_UI, "extra_headers": f"X-Team: {CANARY_HEADER}"})
        assert refused.status_code == 400 and not leaks(refused.content, canaries)
        # a UI credential form re-rendered with an error must not echo the key either
        bad = client.post(f"/models/{m1.pk}/credential/", {"api_key": CANARY_UI, "extra_headers": "no colon here"})
        assert bad.status_code == 400 and not leaks(bad.content, canaries)

        # 3. connection tests enqueued while no worker runs: inspect the message bodies on the queue
        for pk in (m1.pk, m2):
            assert api.post(f"/api/v1/models/{pk}/test-connection/").status_code == 202
        assert not queue_leaks(redis_client, canaries)

    # 4. a real worker executes them (the first key is wrong: the server echoes it in its error)
    with celery_worker(extra_env={"MODEL_ENDPOINT_ALLOWLIST": "127.0.0.1"}) as worker:
        wait_for(lambda: ConnectionTest.objects.filter(status__in=["succeeded", "failed"]).count() == 2,
                 timeout=120, message="both connection tests")
        worker_log = worker.log()
    results = {t.registered_model_id: t for t in ConnectionTest.objects.all()}
    assert results[m2].status == "succeeded", results[m2].error
    assert results[m1.pk].status == "failed"
    assert "[redacted]" in results[m1.pk].error  # the server echoed the wrong key; the portal scrubbed it
    assert "connection test" in worker_log
    assert not leaks(worker_log, canaries)

    # 5. every page and API response, for every role
    world = {"m1": m1.pk, "m2": m2, "task": _task(uk_staff, exercise),
             "tests": [(t.registered_model_id, t.pk) for t in ConnectionTest.objects.all()]}
    ui, api_urls = all_pages(world)
    checked = 0
    for name in ACTORS:
        user = request.getfixturevalue(name)
        client.logout()
        sign_in(client, user)
        for url in ui + api_urls:
            response = client.get(url)
            assert response.status_code in (200, 403, 404), (name, url, response.status_code)
            assert not leaks(response.content, canaries), (name, url)
            checked += 1
    assert checked == len(ACTORS) * len(ui + api_urls)

    # 6. the database: every text/json/bytea column of every table
    assert database_leaks(canaries) == []
    # 7. this process's log output
    assert caplog.records
    assert not leaks(caplog.text, canaries)


def _task(user, exercise):
    from tests.support.registry import make_registry_task

    return make_registry_task(user, exercise).pk


def test_the_leak_detectors_find_a_canary_stored_in_clear(uk_staff, exercise):
    """Positive control: the database search finds a canary in a text column and in a bytea column."""
    from evaluations.models import ModelCredential
    from tests.support.registry import make_model

    model = make_model(uk_staff, exercise, notes=f"oops {CANARY_UI}")
    ModelCredential.objects.create(registered_model=model, ciphertext=CANARY_PATCH.encode(), set_by=uk_staff,
                                   set_at=model.created_at)
    found = database_leaks([CANARY_UI, CANARY_PATCH])
    assert ("evaluations_registeredmodel", "notes", CANARY_UI) in found
    assert ("evaluations_modelcredential", "ciphertext", CANARY_PATCH) in found
