"""Real portal processes for integration tests (no mocks: real PostgreSQL, Redis and Celery).

    with celery_worker() as worker:      # a prefork worker on the suite's queue, against the test database
        ...
        worker.kill()                    # SIGKILL the whole process group (parent and children)
    with celery_workers(2) as workers:   # two, started side by side
    with portal_process(command, name="beat") as beat:   # any other portal process (beat, gunicorn)

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
class PortalProcess:
    """A portal process a test started (a Celery worker, beat, gunicorn), in a process group of its own, its
    output in ``log_path``. ``hostname`` is a worker's Celery node name (empty for the others)."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(repr=False)
    hostname: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (a prefork worker's parent and children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.send_signal(signal.SIGKILL)  # children left behind by a killed parent


WorkerProcess = PortalProcess  # a Celery worker (its hostname set)


def portal_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a portal process against the test database and the suite's queue. CELERY_SKIP_CHECKS:
    a worker does not run Django's system checks as it starts (`make test` runs them before the suite);
    measured, that halves a worker's start: 17 s -> 7 s at a load average of 9."""
    env = dict(os.environ)
    env.update({"DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL,
                "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE, "PYTHONUNBUFFERED": "1",
                "CELERY_SKIP_CHECKS": "1"})
    env.update(extra or {})
    return env


def process_start(command: list[str], *, extra_env: dict[str, str] | None = None, name: str = "process",
                  hostname: str = "") -> PortalProcess:
    """Start ``command`` in the repository with ``portal_env``, its output to a log file of its own."""
    env = portal_env(extra_env)
    log_path = Path(tempfile.mkdtemp(prefix=f"{name}-")) / f"{name}.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return PortalProcess(proc=proc, log_path=log_path, env=env, hostname=hostname)


@contextlib.contextmanager
def portal_process(command: list[str], *, extra_env: dict[str, str] | None = None,
                   name: str = "process") -> Iterator[PortalProcess]:
    """``process_start``, stopped (SIGTERM, then SIGKILL) at the end."""
    process = process_start(command, extra_env=extra_env, name=name)
    try:
        yield process
    finally:
        process.stop()


def wait_until_ready(worker: PortalProcess, timeout: float = 60) -> None:
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
def celery_workers(
    count: int,
    *,
    concurrency: int = 1,
    pool: str = "prefork",
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    ready_timeout: float = 120,
) -> Iterator[list[PortalProcess]]:
    """``count`` real Celery workers on the suite's queue, started side by side (their start-up times overlap:
    they are slow to start on a loaded machine); each stopped at the end."""
    workers: list[PortalProcess] = []
    try:
        for _ in range(count):
            hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
            queue = portal_env(extra_env)["CELERY_QUEUE"]
            command = [
                sys.executable, "-m", "celery", "-A", "portal", "worker",
                "--loglevel", "INFO", "--pool", pool, "--concurrency", str(concurrency),
                "--hostname", hostname, "--queues", queue,
                "--without-gossip", "--without-mingle",
                *(extra_args or []),
            ]
            workers.append(process_start(command, extra_env=extra_env, name="worker", hostname=hostname))
        for worker in workers:
            wait_until_ready(worker, timeout=ready_timeout)
        yield workers
    finally:
        for worker in workers:
            worker.stop()


@contextlib.contextmanager
def celery_worker(
    *,
    concurrency: int = 1,
    pool: str = "prefork",
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    ready_timeout: float = 60,
) -> Iterator[PortalProcess]:
    """One real Celery worker (``celery_workers(1)``)."""
    with celery_workers(1, concurrency=concurrency, pool=pool, extra_env=extra_env, extra_args=extra_args,
                        ready_timeout=ready_timeout) as (worker,):
        yield worker


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; return it, or fail with ``message``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
