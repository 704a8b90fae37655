"""Faults of the worker process: SIGKILL mid-run; SIGKILL in the middle of an ingestion batch; SIGSTOP past its
lease, then SIGCONT (two workers never both write); a duplicated broker message; a connection test whose worker
died."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from evaluations.models import ConnectionTest, Run, RunItem, SampleResult
from evaluations.services.dispatch import EXECUTE_TASK
from evaluations.services.execution import LeaseLost, samples_ingest
from evaluations.services.registry import (
    CONNECTION_TEST_NEVER_TAKEN,
    CONNECTION_TEST_TIME_LIMIT,
    CONNECTION_TEST_WORKER_LOST,
    connection_test_request,
)
from evaluations.services.runs import run_items_reconcile
from portal.queue import enqueue
from tests.faults.conftest import FAULT_SAMPLES, FAULTS, FINISHED, after_fault, item_done_at_least, run_in
from tests.faults.servers import faulty_model_server
from tests.support.registry import make_model
from tests.support.workers import PortalProcess, celery_worker, celery_workers, wait_for

pytestmark = FAULTS

LEASE = "3"  # seconds: the workers here renew their lease every 0.5 s, so 3 s is long enough and quick to expire
LOCAL_ALLOWLIST = "127.0.0.1/32"


def tasks_done(worker: PortalProcess) -> int:
    """How many run_item_execute messages the worker has finished (Celery logs each)."""
    return sum(1 for line in worker.log().splitlines() if EXECUTE_TASK in line and " succeeded in " in line)


def samples_unindexed(run: Run) -> int:
    """The run's samples whose search vector the indexing task has not filled yet."""
    samples, items = SampleResult._meta.db_table, RunItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {samples} s JOIN {items} i ON i.id = s.item_id "  # noqa: S608
                       "WHERE i.run_id = %s AND s.search_vector IS NULL", [run.pk])
        return int(cursor.fetchone()[0])


def row_versions(run: Run) -> dict[str, Any]:
    """The PostgreSQL row versions (xmin) of the run, its items and samples: any write changes them."""
    samples, items = SampleResult._meta.db_table, RunItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT s.id, s.xmin::text FROM {samples} s JOIN {items} i ON i.id = s.item_id "  # noqa: S608
                       "WHERE i.run_id = %s", [run.pk])
        sample_rows = dict(cursor.fetchall())
        cursor.execute(f"SELECT id, xmin::text FROM {items} WHERE run_id = %s", [run.pk])  # noqa: S608
        item_rows = dict(cursor.fetchall())
        cursor.execute(f"SELECT xmin::text FROM {Run._meta.db_table} WHERE id = %s", [run.pk])  # noqa: S608
        (run_row,) = cursor.fetchone()
    return {"samples": sample_rows, "items": item_rows, "run": run_row}


def owner_of(item: RunItem, workers: list[PortalProcess]) -> tuple[PortalProcess, PortalProcess]:
    """(the worker holding the item's lease, the other one)."""
    item.refresh_from_db()
    holder = next(w for w in workers if item.lease_owner.startswith(f"{w.hostname}:"))
    return holder, next(w for w in workers if w is not holder)


def test_sigkill_of_the_worker_mid_run(fault_env, start_run):
    with celery_workers(2, extra_env=fault_env(RUNS_LEASE_SECONDS=LEASE)) as workers:
        run = start_run()
        item = run.items.get()
        wait_for(item_done_at_least(item, FAULT_SAMPLES // 4), timeout=120, message="the item to be a quarter done")
        first, second = owner_of(item, workers)
        first.kill(signal.SIGKILL)
        item.refresh_from_db()
        assert item.state == RunItem.State.RUNNING and item.done_samples < FAULT_SAMPLES
        wait_for(lambda: run_items_reconcile()["requeued"], timeout=60, message="the lease to expire")
        wait_for(run_in(run, *FINISHED), timeout=240, message="the run to finish")
        wait_for(lambda: tasks_done(second) >= 1, timeout=60, message="the second worker to end its task")
    item.refresh_from_db()
    assert item.attempts == 2
    after_fault(run)


INGEST_PAUSE_MS = "1500"  # RUNS_INGEST_PAUSE_MS: each ingestion batch's transaction stays open this long


def ingesting_batch(worker: PortalProcess, batch: int) -> bool:
    """The worker has written ingestion batch ``batch`` and not committed it (it logs so while it pauses)."""
    return f"ingestion batch {batch} " in worker.log()


def test_sigkill_of_the_worker_in_the_middle_of_an_ingestion_batch(fault_env, start_run):
    """Two ingestion batches (500 samples, then 100: a run of 600): the worker is killed with the first batch
    committed and the second written but not committed. The server rolls the second back; the item is re-queued
    once its lease expires and run again by the other worker, whose ingestion writes the first batch's samples
    over (one row each, never two) and the second's anew: 600 rows, once each."""
    samples = 500 + 100
    env = fault_env(RUNS_LEASE_SECONDS=LEASE, RUNS_INGEST_PAUSE_MS=INGEST_PAUSE_MS)
    with celery_workers(2, extra_env=env) as workers:
        run = start_run(samples=samples)
        item = run.items.get()
        wait_for(lambda: any(ingesting_batch(w, 2) for w in workers), timeout=180,
                 message="a worker to be in its second ingestion batch")
        first, second = owner_of(item, workers)
        first.kill(signal.SIGKILL)
        # what the killed worker left: the first batch (committed), nothing of the second
        assert SampleResult.objects.filter(item=item).count() == 500
        item.refresh_from_db()
        assert item.state == RunItem.State.RUNNING and item.attempts == 1
        wait_for(lambda: run_items_reconcile()["requeued"], timeout=60, message="the lease to expire")
        wait_for(run_in(run, *FINISHED), timeout=240, message="the run to finish")
        wait_for(lambda: tasks_done(second) >= 1, timeout=60, message="the second worker to end its task")
    assert ingesting_batch(second, 2), "the second worker ingested both batches"
    item.refresh_from_db()
    assert item.attempts == 2
    after_fault(run, samples=samples)


def test_sigstop_of_the_worker_past_its_lease_then_sigcont(settings, fault_env, start_run):
    """The stopped worker is nearly done when it stops, so once resumed it reaches the ingestion of its log
    before its heartbeat notices that the lease is gone: it must still write no sample and no state."""
    with celery_workers(2, extra_env=fault_env(RUNS_LEASE_SECONDS=LEASE)) as workers:
        run = start_run()
        item = run.items.get()
        wait_for(item_done_at_least(item, FAULT_SAMPLES * 9 // 10), timeout=120, message="the item to be 90% done")
        first, second = owner_of(item, workers)
        first.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: run_items_reconcile()["requeued"], timeout=60, message="the lease to expire")
            wait_for(run_in(run, *FINISHED), timeout=240,
                     message="the second worker to finish the run")
            wait_for(lambda: tasks_done(second) >= 1, timeout=60, message="the second worker to end its task")
            item.refresh_from_db()
            assert item.lease_owner == "" and item.attempts == 2
            # The search indexing task (after the ingestion's commit) updates the samples' rows: let it finish
            # first, so that only a write by the resumed worker can change a row version below.
            wait_for(lambda: samples_unindexed(run) == 0, timeout=120, message="the samples to be indexed")
            before = row_versions(run)
            assert len(before["samples"]) == FAULT_SAMPLES
        finally:
            first.send_signal(signal.SIGCONT)
        wait_for(lambda: tasks_done(first) >= 1, timeout=120, message="the resumed worker to end its task")
        log = first.log()
    assert "lease lost" in log, log[-3000:]
    assert row_versions(run) == before, "the resumed worker wrote to the run, its item or its samples"
    # Resumed after its engine ended (or stopped mid-ingestion), a worker goes on to ingest its log: without the
    # lease that writes nothing either (the same log here: the rows would be rewritten, their xmin changed).
    item.refresh_from_db()
    with pytest.raises(LeaseLost):
        samples_ingest(item_id=item.pk, log_path=str(Path(settings.MEDIA_ROOT) / item.log_path),
                       owner=f"{first.hostname}:1")
    assert row_versions(run) == before
    after_fault(run)


def test_a_duplicated_broker_message(fault_env, start_run):
    """The item's message is sent twice more while it runs and once more after it finished: one execution."""
    with celery_worker(extra_env=fault_env(), concurrency=2) as worker:
        run = start_run()
        item = run.items.get()
        wait_for(item_done_at_least(item, 1), timeout=120, message="the item to start")
        enqueue(EXECUTE_TASK, item.pk)
        enqueue(EXECUTE_TASK, item.pk)
        wait_for(run_in(run, *FINISHED), timeout=240, message="the run to finish")
        enqueue(EXECUTE_TASK, item.pk)
        wait_for(lambda: tasks_done(worker) >= 4, timeout=120, message="every copy of the message to be consumed")
    item.refresh_from_db()
    assert item.attempts == 1
    after_fault(run)


def test_a_connection_test_whose_worker_died_does_not_stay_running(settings, exercise, uk_staff, redis_client):
    with faulty_model_server(hang_seconds=300, faults=("hang",)) as server:
        server.fail_for(600)
        with override_settings(MODEL_ENDPOINT_ALLOWLIST=[LOCAL_ALLOWLIST]):
            model = make_model(uk_staff, exercise, provider_model="openai-api/local/m", base_url=server.base_url,
                               api_key="sk-fault-test-key-0123456789")
        with celery_worker(extra_env={"MODEL_ENDPOINT_ALLOWLIST": LOCAL_ALLOWLIST}) as worker:
            row = connection_test_request(user=uk_staff, registered_model=model)
            wait_for(lambda: server.answers["hang"] >= 1, timeout=60, message="the test to reach the endpoint")
            worker.kill(signal.SIGKILL)
    row.refresh_from_db()
    assert row.status == ConnectionTest.Status.RUNNING and row.started_at
    assert run_items_reconcile()["connection_tests_failed"] == 0, "a test younger than its time limit is left alone"
    # The clock moves past the task's hard time limit (no live worker can still be running it).
    ConnectionTest.objects.filter(pk=row.pk).update(
        started_at=timezone.now() - timedelta(seconds=CONNECTION_TEST_TIME_LIMIT + 61))
    assert run_items_reconcile()["connection_tests_failed"] == 1
    row.refresh_from_db()
    assert row.status == ConnectionTest.Status.FAILED and row.finished_at
    assert row.error == CONNECTION_TEST_WORKER_LOST
    # One whose message was lost (never taken by a worker) does not stay pending for ever either.
    lost = ConnectionTest.objects.create(registered_model=model, model_version=model.current_version,
                                         requested_by=uk_staff)
    ConnectionTest.objects.filter(pk=lost.pk).update(
        requested_at=timezone.now() - timedelta(seconds=settings.RUNS_QUEUED_GRACE_SECONDS + 1))
    assert run_items_reconcile()["connection_tests_failed"] == 1
    lost.refresh_from_db()
    assert lost.status == ConnectionTest.Status.FAILED and lost.error == CONNECTION_TEST_NEVER_TAKEN
