"""The web process's gunicorn settings (portal/gunicorn.conf.py) and the warm-up its master does before forking the
workers (portal/warmup.py): docs/benchmarks.md §5."""

from __future__ import annotations

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
