"""Faults of the services and of the portal's other processes: Redis restarted with its data gone; PostgreSQL
restarted; the web process killed during an approval, then started again; two beat schedulers at once.

Redis and PostgreSQL here are servers of the test's own (tests/faults/servers.py), never the machine's shared ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.services import api_token_create
from evaluations.models import Run, RunApproval
from evaluations.services.runs import run_approve, run_items_reconcile
from portal.audit import _CHAIN_LOCK_KEY, audit_chain_verify
from portal.models import AuditEvent
from tests.faults.conftest import (
    FAULT_SAMPLES,
    FAULTS,
    FINISHED,
    SMALL_RUN,
    after_fault,
    db_retrying,
    item_done_at_least,
    run_in,
)
from tests.faults.servers import (
    OwnPostgres,
    OwnRedis,
    beat_command,
    copy_database,
    free_port,
    gunicorn_command,
    this_process_on_redis,
)
from tests.support.workers import BASE_DIR, PortalProcess, celery_worker, portal_process, wait_for
from tests.support.workers import test_database_url as database_url_for_tests  # (not collected as a test)

pytestmark = FAULTS


# --- Redis restarted with its data gone -----------------------------------------------------------------------

@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        with this_process_on_redis(server.url(0)):
            yield server
    finally:
        server.close()


def test_redis_restarted_with_its_data_gone(own_redis, fault_env, start_run):
    """Two items, one worker: one runs while the other's message waits in Redis when Redis loses everything.
    The reconciler (called here as beat would, more often) finds the lost message by its missing marker."""
    with celery_worker(extra_env=fault_env(REDIS_URL=own_redis.url(0)), concurrency=1) as worker:
        run = start_run(models=2)
        first = wait_for(lambda: run.items.filter(done_samples__gte=FAULT_SAMPLES // 4).first(), timeout=120,
                         message="one item to be a quarter done")
        assert run.items.exclude(pk=first.pk).get().state == "queued"
        own_redis.restart()  # every message, marker and lock in Redis is gone

        def reconciled_until_finished() -> Run | None:
            run_items_reconcile()
            return run_in(run, *FINISHED)()

        wait_for(reconciled_until_finished, timeout=300, interval=1, message="the run to finish")
        log = worker.log()
    assert "Connection to broker lost" in log or "Cannot connect" in log or "Error" in log, log[-2000:]
    after_fault(run)


# --- PostgreSQL restarted -----------------------------------------------------------------------------------

@pytest.fixture
def own_postgres(transactional_db) -> Iterator[OwnPostgres]:
    """A PostgreSQL cluster of the test's own, migrated; this process and the workers use it for the test."""
    server = OwnPostgres()
    server.init()
    server.start()
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute('CREATE DATABASE "portal_faults"')
    url = server.url("portal_faults")
    if not copy_database(database_url_for_tests(), url):  # a copy of the (migrated, empty) test database; else migrate
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, check=True,
                       env={**os.environ, "DATABASE_URL": url}, timeout=600)
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": str(server.port), "NAME": "portal_faults",
                                     "USER": "postgres", "PASSWORD": ""})
    try:
        yield server
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
        server.close()


def test_postgresql_restarted(own_postgres, fault_env, start_run):
    with celery_worker(extra_env=fault_env()):
        run = start_run()
        item = run.items.get()
        wait_for(item_done_at_least(item, FAULT_SAMPLES // 4), timeout=120, message="the item to be a quarter done")
        connection.close()
        own_postgres.stop("fast")  # every connection is cut; nothing answers for a few seconds
        time.sleep(3)
        own_postgres.start()
        wait_for(db_retrying(lambda: run_items_reconcile() is not None and run_in(run, *FINISHED)()), timeout=300,
                 interval=1, message="the run to finish")
    after_fault(run)


# --- The web process killed during an approval ------------------------------------------------------------------

def _approve_over_http(port: int, run: Run, token: str, out: dict[str, object]) -> None:
    try:
        response = requests.post(f"http://127.0.0.1:{port}/api/v1/runs/{run.pk}/approve/", timeout=120,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                 data=json.dumps({"revision": run.revision}))
        out["status"] = response.status_code
        out["body"] = response.text[:500]
    except requests.RequestException as exc:
        out["error"] = str(exc)


def _wait_web(port: int, process: PortalProcess) -> None:
    def answers() -> bool:
        if process.proc.poll() is not None:
            raise AssertionError(f"the web process exited:\n{process.log()[-3000:]}")
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False
    wait_for(answers, timeout=120, interval=0.3, message="the web process to answer")


def _approval_waiting_for_the_audit_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the statistics are a snapshot
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE %s",
                       ["%pg_advisory_xact_lock%"])
        return bool(cursor.fetchone()[0])


def test_the_web_process_killed_during_an_approval(fault_env, new_run, uk_approver, us_approver):
    """The last approval is sent to a real gunicorn; the approval's transaction is held inside (the test holds the
    audit trail's append lock) and gunicorn is killed with SIGKILL: nothing of the approval is kept. Started
    again, the same approval goes through once, and the run runs."""
    run = new_run(samples=SMALL_RUN)
    run_approve(actor=uk_approver, run=run)
    token = api_token_create(user=us_approver, scope="write").plain
    port = free_port()
    events_before = AuditEvent.objects.count()
    out: dict[str, object] = {}
    with portal_process(gunicorn_command(port), name="web") as web:
        _wait_web(port, web)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
            request = threading.Thread(target=_approve_over_http, args=(port, run, token, out))
            request.start()
            wait_for(_approval_waiting_for_the_audit_lock, timeout=60, message="the approval to be mid-transaction")
            web.kill()  # SIGKILL to gunicorn's master and worker, mid-transaction
        request.join(timeout=60)
    assert "error" in out or out.get("status", 0) >= 500, out
    # The server ends the dead client's transaction: wait until its backend is gone, then nothing is kept.
    wait_for(lambda: not _approval_waiting_for_the_audit_lock(), timeout=60, message="the dead request's backend")
    run.refresh_from_db()
    assert run.state == Run.State.SUBMITTED
    assert RunApproval.objects.filter(run=run).count() == 1
    assert AuditEvent.objects.count() == events_before
    assert audit_chain_verify().ok

    # gunicorn first: it starts while the worker does (celery_worker waits for its worker to answer)
    with portal_process(gunicorn_command(port), name="web") as web, celery_worker(extra_env=fault_env()):
        _wait_web(port, web)
        out = {}
        _approve_over_http(port, run, token, out)
        assert out.get("status") == 200, out
        wait_for(run_in(run, *FINISHED), timeout=240, message="the run to finish")
    assert RunApproval.objects.filter(run=run).count() == 2
    after_fault(run, samples=SMALL_RUN)


# --- Two beat schedulers at once ----------------------------------------------------------------------------

def test_two_beat_schedulers_at_once(tmp_path: Path, fault_env, new_run, uk_approver, us_approver):
    """A recurring run whose slot is due: both schedulers send its firing; one execution run is made."""
    # Hourly, at the minute before this one: this hour's slot has just passed, the next is an hour away. (Every
    # hour: django-celery-beat leaves out crontabs whose hours do not include the current one.)
    minute = (timezone.now().minute - 1) % 60
    run = new_run(samples=SMALL_RUN, schedule="recurring", cron=f"{minute} * * * *",
                  approval_valid_until=timezone.now() + timedelta(days=2))
    run_approve(actor=uk_approver, run=run)
    run_approve(actor=us_approver, run=run)
    run.refresh_from_db()
    assert run.state == Run.State.APPROVED and run.periodic_task_id
    periodic = PeriodicTask.objects.get(pk=run.periodic_task_id)
    # the schedulers first: they start while the worker does (celery_worker waits for its worker to answer)
    with portal_process(beat_command(tmp_path / "beat-1"), name="beat") as beat_1, \
            portal_process(beat_command(tmp_path / "beat-2"), name="beat") as beat_2, \
            celery_worker(extra_env=fault_env(), concurrency=2) as worker:
        wait_for(lambda: all("Schedule changed" in b.log() for b in (beat_1, beat_2)), timeout=120,
                 message="both schedulers to load the schedule")
        time.sleep(3)  # not an assertion: past each one's first ticks (a scheduler's first tick writes at once)
        # Both run. Now the slot just passed becomes overdue (its last firing two days ago): each scheduler sees the
        # change within its loop interval and fires it, as two long-running schedulers both fire every slot.
        periodic.last_run_at, periodic.no_changes = timezone.now() - timedelta(days=2), False
        periodic.save()  # a change the schedulers notice (their own writes of last_run_at are not)
        wait_for(lambda: all(f"Sending due task {periodic.name}" in b.log() for b in (beat_1, beat_2)), timeout=120,
                 message=f"both schedulers to send {periodic.name}")
        fired = "evaluations.run_recurring_fire"
        wait_for(lambda: sum(1 for line in worker.log().splitlines() if fired in line and " succeeded in " in line)
                 >= 2, timeout=120, message="the worker to handle both firings")
        execution = wait_for(lambda: run.executions.first(), timeout=30, message="the execution run")
        wait_for(run_in(execution, *FINISHED), timeout=240, message="the execution run to finish")
    assert run.executions.count() == 1, "a scheduled run was doubled"
    run.refresh_from_db()
    assert run.state == Run.State.APPROVED
    after_fault(execution, samples=SMALL_RUN)
