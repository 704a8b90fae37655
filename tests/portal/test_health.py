"""/healthz and /readyz as CONTRACT.md says: readyz is 200 only when the database, the broker and a worker
answer, and its JSON names each check."""

import socket

import pytest

from tests.support.workers import celery_worker

CHECKS = {"database", "broker", "worker"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_healthz_answers_200_without_touching_services(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_readyz_answers_200_with_every_check_ok_while_a_worker_runs(client, redis_client):
    with celery_worker() as worker:
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    assert all(check["ok"] for check in body["checks"].values())
    assert worker.hostname in body["checks"]["worker"]["workers"]


@pytest.mark.django_db
def test_readyz_answers_503_naming_the_worker_check_when_no_worker_runs(client, redis_client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert set(body["checks"]) == CHECKS
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False
    assert "no worker answered" in body["checks"]["worker"]["error"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_readyz_answers_503_when_the_worker_goes_down(client, redis_client):
    with celery_worker() as worker:
        assert client.get("/readyz").status_code == 200
        worker.kill()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["ok"] is False


@pytest.mark.django_db
def test_readyz_answers_503_naming_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is False
    assert "Connection" in body["checks"]["broker"]["error"]
    assert body["checks"]["worker"]["ok"] is False
