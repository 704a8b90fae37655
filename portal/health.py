"""Liveness and readiness checks (see CONTRACT.md: /healthz and /readyz)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection


def check_database() -> dict[str, object]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def check_broker() -> dict[str, object]:
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def check_worker() -> dict[str, object]:
    from portal.celery import app

    # An explicit connection with a short connect timeout: an unreachable broker fails fast, never hangs.
    with app.connection_for_write(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        replies = app.control.ping(timeout=settings.READYZ_WORKER_TIMEOUT, connection=conn, limit=1)
    if not replies:
        raise RuntimeError("no worker answered a ping")
    return {"workers": sorted(name for reply in replies for name in reply)}


CHECKS: dict[str, Callable[[], dict[str, object]]] = {
    "database": check_database,
    "broker": check_broker,
    "worker": check_worker,
}


def run_checks() -> tuple[bool, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, object]] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            detail = check()
            results[name] = {"ok": True, **detail}
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none is raised
            healthy = False
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    return healthy, results
