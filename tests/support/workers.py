"""Real Celery worker processes for integration tests (no mocks: real PostgreSQL, Redis and Celery).

    with celery_worker() as worker:      # a prefork worker on the suite's queue, against the test database
        ...
        worker.kill()                    # SIGKILL the whole process group (parent and children)

Use with ``transactional_db`` (or ``django_db(transaction=True)``): the worker is another process and only
sees committed rows."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = db.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgresql://{auth}{host}:{port}/{db['NAME']}"


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    hostname: str
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        # children left behind by a killed parent
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def wait_until_ready(worker: WorkerProcess, timeout: float = 60) -> None:
    from portal.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.proc.returncode}:\n{worker.log()[-4000:]}")
        replies = app.control.ping(destination=[worker.hostname], timeout=0.5)
        if replies:
            return
    raise TimeoutError(f"worker {worker.hostname} did not answer within {timeout}s:\n{worker.log()[-4000:]}")


@contextlib.contextmanager
def celery_worker(
    *,
    concurrency: int = 1,
    pool: str = "prefork",
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    ready_timeout: float = 60,
) -> Iterator[WorkerProcess]:
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env["REDIS_URL"] = settings.REDIS_URL
    env["CELERY_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra_env or {})
    hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
    log_dir = Path(tempfile.mkdtemp(prefix="worker-"))
    log_path = log_dir / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "worker",
        "--loglevel", "INFO", "--pool", pool, "--concurrency", str(concurrency),
        "--hostname", hostname, "--queues", env["CELERY_QUEUE"],
        "--without-gossip", "--without-mingle",
        *(extra_args or []),
    ]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = WorkerProcess(proc=proc, hostname=hostname, log_path=log_path, env=env)
    try:
        wait_until_ready(worker, timeout=ready_timeout)
        yield worker
    finally:
        worker.stop()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; return it, or fail with ``message``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
