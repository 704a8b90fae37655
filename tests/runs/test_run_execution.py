"""Runs executed by real Celery workers (real PostgreSQL, Redis and worker processes) with a test-only Inspect task.

Nothing lost, nothing twice: a killed worker, a flushed Redis and two workers given the same item all end with
exactly one result row per sample."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from django.db.models import Count

from evaluations.models import Notification, Run, RunItem, SampleResult
from evaluations.services.runs import (
    run_approve,
    run_cancel,
    run_create,
    run_item_retry,
    run_items_reconcile,
)
from evaluations.tasks.runs import run_item_execute
from tests.support.factories import model_version, task_version
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def worker_env(settings, **extra: str) -> dict[str, str]:
    return {"MEDIA_ROOT": str(settings.MEDIA_ROOT), **extra}


def approved_run(*, exercise, uk_staff, uk_approver, us_approver, args, **options):  # type: ignore[no-untyped-def]
    mv = model_version(exercise=exercise, user=uk_staff)
    tv = task_version(exercise=exercise, user=uk_staff, args=args)
    run = run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv], options=options, submit=True)
    run_approve(actor=uk_approver, run=run)
    run_approve(actor=us_approver, run=run)
    run.refresh_from_db()
    return run


def traced(path: Path) -> Counter[str]:
    return Counter(path.read_text().split()) if path.exists() else Counter()


def one_row_per_sample(item: RunItem) -> bool:
    return not SampleResult.objects.filter(item=item).values("sample_id", "epoch").annotate(
        n=Count("id")).filter(n__gt=1).exists()


def finished(run: Run, *states: str):  # type: ignore[no-untyped-def]
    def check():  # type: ignore[no-untyped-def]
        run.refresh_from_db()
        return run if run.state in states else None
    return check


def test_an_approved_run_is_executed_by_a_worker_and_every_sample_is_ingested_once(
        settings, tmp_path, exercise, uk_staff, uk_approver, us_approver, redis_client):
    trace = tmp_path / "trace.txt"
    with celery_worker(extra_env=worker_env(settings)):
        run = approved_run(exercise=exercise, uk_staff=uk_staff, uk_approver=uk_approver, us_approver=us_approver,
                           args={"samples": 3, "trace_file": str(trace)}, epochs=2)
        assert run.state == Run.State.QUEUED
        wait_for(finished(run, "succeeded", "failed", "partially_succeeded"), timeout=120,
                 message="the run to finish")
    item = run.items.get()
    assert run.state == Run.State.SUCCEEDED, item.error
    assert item.state == RunItem.State.SUCCEEDED
    assert SampleResult.objects.filter(item=item).count() == 6  # 3 samples x 2 epochs
    assert one_row_per_sample(item)
    sample = SampleResult.objects.get(item=item, sample_id="2", epoch=1)
    assert sample.output == "2" and sample.score == 1.0 and sample.scores
    assert sample.input_text == "Say 2." and sample.messages
    assert item.done_samples == 6 and item.total_samples == 6
    assert item.attempts == 1
    assert item.metrics, "the item keeps Inspect's metrics"
    assert (Path(settings.MEDIA_ROOT) / item.log_path).is_file() and item.log_path.endswith(".eval")
    assert Notification.objects.filter(run=run, user=uk_staff, kind="finished").exists()


def test_two_workers_given_the_same_item_run_it_once(settings, tmp_path, exercise, uk_staff, uk_approver,
                                                     us_approver, redis_client):
    trace = tmp_path / "trace.txt"
    settings.RUNS_MAX_ITEMS_IN_FLIGHT = 1
    with celery_worker(extra_env=worker_env(settings)), celery_worker(extra_env=worker_env(settings)):
        run = approved_run(exercise=exercise, uk_staff=uk_staff, uk_approver=uk_approver, us_approver=us_approver,
                           args={"samples": 3, "delay": 0.3, "trace_file": str(trace)})
        item = run.items.get()
        run_item_execute.delay(item.pk)  # the same item given again, to whichever worker is free
        run_item_execute.delay(item.pk)
        wait_for(finished(run, "succeeded", "failed"), timeout=120, message="the run to finish")
        time.sleep(2)  # let the duplicate messages be consumed
    item.refresh_from_db()
    assert run.state == Run.State.SUCCEEDED, item.error
    assert item.attempts == 1
    assert traced(trace) == Counter({"1": 1, "2": 1, "3": 1})
    assert SampleResult.objects.filter(item=item).count() == 3


def test_cancel_stops_a_running_item_within_ten_seconds_and_retry_runs_only_the_unfinished_samples(
        settings, tmp_path, exercise, uk_staff, uk_approver, us_approver, redis_client):
    trace = tmp_path / "trace.txt"
    total = 12
    with celery_worker(extra_env=worker_env(settings)):
        run = approved_run(exercise=exercise, uk_staff=uk_staff, uk_approver=uk_approver, us_approver=us_approver,
                           args={"samples": total, "delay": 0.5, "trace_file": str(trace)}, max_samples=1)
        item = run.items.get()
        wait_for(lambda: RunItem.objects.filter(pk=item.pk, done_samples__gte=2).exists(), timeout=90,
                 message="two samples to finish")
        run_cancel(actor=uk_staff, run=run)
        wait_for(finished(run, "cancelled"), timeout=10, message="the run to be cancelled within 10 s")
        item.refresh_from_db()
        assert item.state == RunItem.State.CANCELLED
        kept = SampleResult.objects.filter(item=item, error="").count()
        assert 2 <= kept < total, "what finished is kept"
        first_pass = traced(trace)
        assert sum(first_pass.values()) >= kept

        run_item_retry(actor=uk_approver, item=item)
        wait_for(finished(run, "succeeded", "failed", "partially_succeeded"), timeout=120,
                 message="the retried run to finish")
    item.refresh_from_db()
    assert run.state == Run.State.SUCCEEDED, item.error
    assert SampleResult.objects.filter(item=item).count() == total
    assert one_row_per_sample(item)
    second_pass = traced(trace) - first_pass
    kept_ids = set(SampleResult.objects.filter(item=item, sample_id__in=list(first_pass)).values_list(
        "sample_id", flat=True))
    assert not (set(second_pass) & set(first_pass)), "retry re-ran no finished sample"
    assert sum(second_pass.values()) == total - kept, (second_pass, kept, kept_ids)


def test_a_killed_worker_loses_nothing_and_the_item_finishes_once_on_a_new_worker(
        settings, tmp_path, exercise, uk_staff, uk_approver, us_approver, redis_client):
    trace = tmp_path / "trace.txt"
    env = worker_env(settings, RUNS_LEASE_SECONDS="3")
    with celery_worker(extra_env=env) as first:
        run = approved_run(exercise=exercise, uk_staff=uk_staff, uk_approver=uk_approver, us_approver=us_approver,
                           args={"samples": 6, "delay": 0.5, "trace_file": str(trace)}, max_samples=1)
        item = run.items.get()
        wait_for(lambda: RunItem.objects.filter(pk=item.pk, done_samples__gte=2).exists(), timeout=90,
                 message="the item to be half done")
        first.kill()
    item.refresh_from_db()
    assert item.state == RunItem.State.RUNNING
    with celery_worker(extra_env=env):
        wait_for(lambda: run_items_reconcile()["requeued"], timeout=30, message="the lease to expire")
        wait_for(finished(run, "succeeded", "failed"), timeout=120, message="the run to finish")
    item.refresh_from_db()
    assert run.state == Run.State.SUCCEEDED, item.error
    assert item.attempts == 2
    assert SampleResult.objects.filter(item=item).count() == 6
    assert one_row_per_sample(item)


def test_an_item_whose_message_vanished_from_redis_still_runs(settings, tmp_path, exercise, uk_staff, uk_approver,
                                                              us_approver, redis_client):
    from datetime import timedelta

    from django.utils import timezone

    run = approved_run(exercise=exercise, uk_staff=uk_staff, uk_approver=uk_approver, us_approver=us_approver,
                       args={"samples": 2})
    # No worker yet: the dispatch message waits in Redis; dispatch here so the item's own message is sent too.
    from evaluations.services.dispatch import run_items_dispatch

    run_items_dispatch()
    item = run.items.get()
    item.refresh_from_db()
    assert item.state == RunItem.State.QUEUED and item.enqueued_at is not None
    RunItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(seconds=10))
    assert run_items_reconcile()["resent"] == 0, "a message still in Redis is not sent twice"
    redis_client.flushdb()  # Redis restarted with its data gone: every message is lost
    with celery_worker(extra_env=worker_env(settings)):
        result = run_items_reconcile()
        assert result["resent"] == 1 and result["dispatched"] == 1
        wait_for(finished(run, "succeeded", "failed"), timeout=120, message="the run to finish")
    assert run.state == Run.State.SUCCEEDED
    assert SampleResult.objects.filter(item=item).count() == 2


def test_a_database_blip_while_an_item_runs_does_not_fail_the_run(settings, tmp_path, exercise, uk_staff,
                                                                  uk_approver, us_approver, redis_client):
    """Every server connection of the worker is terminated mid-item (as when PostgreSQL restarts): the worker
    reconnects and the item still finishes with one row per sample."""
    from django.db import connection

    trace = tmp_path / "trace.txt"
    with celery_worker(extra_env=worker_env(settings)):
        run = approved_run(exercise=exercise, uk_staff=uk_staff, uk_approver=uk_approver, us_approver=us_approver,
                           args={"samples": 6, "delay": 0.5, "trace_file": str(trace)}, max_samples=1)
        item = run.items.get()
        wait_for(lambda: RunItem.objects.filter(pk=item.pk, done_samples__gte=1).exists(), timeout=90,
                 message="the item to start")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            (terminated,) = cursor.fetchone()
        assert terminated >= 1
        wait_for(finished(run, "succeeded", "failed", "partially_succeeded"), timeout=120,
                 message="the run to finish")
    item.refresh_from_db()
    assert run.state == Run.State.SUCCEEDED, item.error
    assert SampleResult.objects.filter(item=item).count() == 6
    assert one_row_per_sample(item)
