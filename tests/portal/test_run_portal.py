"""`make run`'s runner for real: with no DATABASE_URL / REDIS_URL it starts the embedded servers, migrates,
brings up web + worker + beat under honcho, answers /readyz 200 and serves static files; Ctrl-C (SIGINT to the
process group, as a terminal sends it) stops every process and the embedded servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import psutil
import pytest

from portal.devservices import EmbeddedPostgres, EmbeddedRedis

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urlopen(url, timeout=15) as response:  # noqa: S310 - local test server
            return response.status, response.read()
    except URLError as exc:
        status = getattr(exc, "code", 0)
        return status, b""
    except OSError:  # a read timed out or the connection dropped while the portal starts: not ready yet
        return 0, b""


def test_run_portal_serves_with_a_live_worker_and_ctrl_c_stops_everything():
    run_dir = Path(tempfile.mkdtemp(prefix="portal-run-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PORTAL_TESTING"}}
    env.update(PORTAL_RUN_DIR=str(run_dir), PORTAL_PORT=str(port), PORT=str(port), DEBUG="1",
               SITE_URL=f"http://127.0.0.1:{port}", EMBEDDED_PG_PORT=str(free_port()),
               EMBEDDED_REDIS_PORT=str(free_port()), WORKER_CONCURRENCY="1", WEB_WORKERS="1")
    log_path = run_dir / "run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portal.devservices", "run", "--", "bash", "bin/run-portal"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline and proc.poll() is None:
            status, body = get(f"http://127.0.0.1:{port}/readyz")
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, f"/readyz never answered 200:\n{log_path.read_text()[-4000:]}"
        assert b'"worker": {"ok": true' in body

        css_status, css = get(f"http://127.0.0.1:{port}/static/portal/portal.css")
        assert css_status == 200 and css
        assert get(f"http://127.0.0.1:{port}/static/govuk/govuk-frontend.min.css")[0] == 200
        assert f"http://127.0.0.1:{port}" in log_path.read_text()

        descendants = psutil.Process(proc.pid).children(recursive=True)
        commands = " ".join(" ".join(p.cmdline()) for p in descendants)
        assert "gunicorn" in commands and "worker" in commands and "beat" in commands

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        assert proc.wait(timeout=90) is not None
        _, alive = psutil.wait_procs(descendants, timeout=30)
        assert alive == [], f"still running after Ctrl-C: {[p.cmdline() for p in alive]}"
        output = log_path.read_text()
        assert "stopping embedded servers" in output
        assert not EmbeddedPostgres(run_dir).is_running()
        assert not EmbeddedRedis(run_dir).is_running()
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 0  # nothing listens any more
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for child in psutil.Process().children(recursive=True):
            if child.pid != os.getpid() and str(run_dir) in " ".join(child.cmdline()):
                child.kill()
        EmbeddedRedis(run_dir).stop()
        pg = EmbeddedPostgres(run_dir)
        pg.stop()
        if pg.shared_dir is not None:  # as root: the copy of the binaries and the data
            subprocess.run(["rm", "-rf", str(pg.shared_dir)], check=False)
        subprocess.run(["rm", "-rf", str(run_dir)], check=False)
