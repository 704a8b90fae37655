"""The web process's gunicorn settings (portal/gunicorn.conf.py) and the warm-up its master does before forking the
workers (portal/warmup.py): docs/benchmarks.md §5."""

from __future__ import annotations

import re
import runpy
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.template import engines
from django.urls import get_resolver

from portal.warmup import warm_up

BASE_DIR = Path(__file__).resolve().parents[2]


def gunicorn_conf() -> dict[str, object]:
    return runpy.run_path(str(BASE_DIR / "portal" / "gunicorn.conf.py"))


def test_workers_are_forked_warm_and_spread_connections():
    conf = gunicorn_conf()
    assert conf["preload_app"] is True and conf["reuse_port"] is True
    assert int(conf["keepalive"]) > 2 * 2  # well beyond a poll every 2 s  # type: ignore[call-overload]


def test_warm_up_loads_the_urlconf_and_compiles_the_templates_without_a_connection():
    connection.close()
    done = warm_up()
    assert done["templates"] >= 50
    assert "evaluations.views.runs" in sys.modules and get_resolver()._populated
    assert connection.connection is None  # nothing a forked worker would inherit
    loader = engines["django"].engine.template_loaders[0]  # the cached loader
    assert any("evaluations/runs/detail.html" in key for key in loader.get_template_cache)


def test_heap_freeze_puts_what_is_loaded_out_of_the_collectors_sight():
    # In a process of its own: frozen objects are never collected, not what the test process should keep.
    code = ("import gc, sys; sys.path.insert(0, '.'); from portal.warmup import heap_freeze; before = len(gc.get_objects()); "
            "frozen = heap_freeze(); print(before, frozen, len(gc.get_objects()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, check=True)
    before, frozen, after = (int(n) for n in out.stdout.split())
    assert frozen >= before // 2 and after < before // 10  # a full collection no longer walks them


def test_the_log_viewer_is_found_without_importing_inspect_ai():
    from evaluations.views.log_viewer import _viewer_dist

    assert (_viewer_dist() / "index.html").is_file()


def test_a_port_another_server_listens_on_is_refused():
    on_starting = gunicorn_conf()["on_starting"]
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as a reuse_port worker binds
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        server = SimpleNamespace(cfg=SimpleNamespace(address=[("127.0.0.1", port)]))
        with pytest.raises(SystemExit, match="is in use"):
            on_starting(server)  # type: ignore[operator]
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    on_starting(SimpleNamespace(cfg=SimpleNamespace(address=[("127.0.0.1", port)])))  # type: ignore[operator]


def _web_backends() -> set[int]:
    """The PostgreSQL backends on the test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return {row[0] for row in cursor.fetchall()}


def _redis_clients() -> set[str]:
    """The Redis connections on the suite's Redis database (their client ids)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        db = client.connection_pool.connection_kwargs.get("db", 0)
        return {str(c["id"]) for c in client.client_list() if int(c["db"]) == int(db)}
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_opens_each_threads_connections_before_it_serves_and_requests_use_them():
    """post_worker_init (portal/gunicorn.conf.py): before a worker accepts a request, each of its request threads
    holds a database connection and a Redis connection of its own (a user's first request no longer opens them);
    requests then run on those connections, none opened or closed. The master froze its heap before forking."""
    import requests

    from tests.faults.servers import gunicorn_command
    from tests.support.workers import portal_process, wait_for

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    backends_before, redis_before = _web_backends(), _redis_clients()
    command = [*gunicorn_command(port), "--threads", "3"]  # one worker of three threads
    with portal_process(command, name="web") as web:
        wait_for(lambda: "Connected 3 request threads" in web.log() or web.proc.poll() is not None, timeout=120,
                 message="the worker's threads to connect")
        assert web.proc.poll() is None, web.log()[-3000:]
        opened = _web_backends() - backends_before
        assert len(opened) == 3, web.log()[-3000:]
        frozen = re.search(r"(\d+) objects frozen", web.log())  # the master's heap, out of the workers' collections
        assert frozen and int(frozen.group(1)) > 10_000
        assert len(_redis_clients() - redis_before) >= 3
        for _ in range(12):  # a bearer token is looked up in the database on every request
            response = requests.get(f"http://127.0.0.1:{port}/api/v1/runs/", timeout=30,
                                    headers={"Authorization": "Bearer not-a-token"})
            assert response.status_code in (401, 403)
        assert _web_backends() - backends_before == opened  # the same three connections served them


def test_the_frozen_heap_is_out_of_the_collectors_reach():
    """After heap_freeze, the collector's generations (what a full collection walks) no longer hold the objects that
    were alive: a worker forked then collects only what it made since."""
    import gc

    from portal.warmup import heap_freeze

    warm_up()
    marker = object.__new__(type("Marker", (), {}))  # alive before the freeze, tracked by the collector
    try:
        frozen = heap_freeze()
        assert frozen > 10_000 and gc.get_freeze_count() == frozen
        assert not any(o is marker for o in gc.get_objects())
        assert len(gc.get_objects()) < frozen / 10
    finally:
        gc.unfreeze()
    assert any(o is marker for o in gc.get_objects())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_still_serves_when_the_database_and_redis_are_down_at_its_start():
    """The threads' warm-up is best effort: with nothing listening at DATABASE_URL and REDIS_URL the worker boots,
    says so in its log and answers /healthz (/readyz says what is wrong), as it did before the warm-up."""
    import requests

    from tests.faults.servers import gunicorn_command
    from tests.support.workers import portal_process, wait_for

    ports = []
    for _ in range(3):
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            ports.append(free.getsockname()[1])
    web_port, db_port, redis_port = ports
    down = {"DATABASE_URL": f"postgresql://root@127.0.0.1:{db_port}/nothing",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    with portal_process(gunicorn_command(web_port), extra_env=down, name="web") as web:
        wait_for(lambda: "Request threads not connected" in web.log() or web.proc.poll() is not None, timeout=120,
                 message="the worker's warm-up to give up")
        assert web.proc.poll() is None, web.log()[-3000:]
        assert "database default: OperationalError" in web.log()
        assert requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=30).status_code == 200
        assert requests.get(f"http://127.0.0.1:{web_port}/readyz", timeout=30).status_code == 503
