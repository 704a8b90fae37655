"""The fault suite (issue 14): a run of FAULT_SAMPLES samples executed by real Celery workers against real
PostgreSQL and Redis, with one fault injected per test. After each fault the same checks hold (``after_fault``):
the run ends in the right state, each sample is stored exactly once, nothing a user saved is missing, and the
audit trail verifies. Reproduce one: ``pytest tests/faults/test_worker_faults.py::test_... -m faults``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError, close_old_connections
from django.db.models import Count

from evaluations.models import Run, RunItem, SampleResult
from evaluations.services.runs import run_approve, run_create
from portal.audit import audit_chain_verify
from tests.support.factories import model_version, task_version

# 500 samples of the test-only ``counting`` task (no model call: mockllm); a little delay per sample so that a
# fault lands mid-run. FAULT_SAMPLES overrides it (e.g. FAULT_SAMPLES=5000 for a longer soak).
FAULT_SAMPLES = int(os.environ.get("FAULT_SAMPLES", "500"))
# The run of a test whose fault is outside the run's execution (an approval, the scheduler): its size does not
# matter to the fault, and Inspect takes about 0.1 s a sample on a loaded machine.
SMALL_RUN = min(FAULT_SAMPLES, 100)
SAMPLE_DELAY = 0.05
FINISHED = ("succeeded", "failed", "partially_succeeded", "cancelled")
# Every test module: pytestmark = FAULTS. A fault test waits for real processes, each wait bounded (wait_for); on a
# loaded machine their sum passes the suite's 300 s time-out (pyproject.toml), which then ends a test that was
# still progressing, in the middle of a query (docs/reliability.md, "another command is already in progress").
FAULTS = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def worker_env(settings: Any, **extra: str) -> dict[str, str]:
    return {"MEDIA_ROOT": str(settings.MEDIA_ROOT), **extra}


@pytest.fixture
def fault_env(settings) -> Callable[..., dict[str, str]]:  # type: ignore[no-untyped-def]
    """``worker_env`` for this test: ``fault_env(RUNS_LEASE_SECONDS="3")``, the workers' environment."""
    return lambda **extra: worker_env(settings, **extra)


@pytest.fixture
def new_run(exercise, uk_staff, redis_client) -> Callable[..., Run]:  # type: ignore[no-untyped-def]
    """``submitted_run`` for this test's exercise and staff: ``new_run(models=2)``."""
    return lambda **kwargs: submitted_run(exercise=exercise, uk_staff=uk_staff, **kwargs)


@pytest.fixture
def start_run(exercise, uk_staff, uk_approver, us_approver, redis_client) -> Callable[..., Run]:  # type: ignore[no-untyped-def]
    """``approved_run`` for this test's users (the run is queued and dispatched): ``start_run(models=2)``."""
    return lambda **kwargs: approved_run(exercise=exercise, uk_staff=uk_staff, uk_approver=uk_approver,
                                         us_approver=us_approver, **kwargs)


def submitted_run(*, exercise: Any, uk_staff: Any, samples: int = FAULT_SAMPLES, delay: float = SAMPLE_DELAY,
                  model: Any = None, task: Any = None, models: int = 1, **options: Any) -> Run:
    """A submitted run of ``samples`` samples per item (``models`` model versions x one task)."""
    mvs = [model] if model else [model_version(exercise=exercise, user=uk_staff, name=f"Mock model {n}",
                                               max_connections=8) for n in range(models)]
    tv = task or task_version(exercise=exercise, user=uk_staff, args={"samples": samples, "delay": delay})
    return run_create(actor=uk_staff, exercise=exercise, models=mvs, tasks=[tv],
                      options={"name": "Fault run", "max_samples": 20, **options}, submit=True)


def approved_run(*, exercise: Any, uk_staff: Any, uk_approver: Any, us_approver: Any, **kwargs: Any) -> Run:
    """``submitted_run``, approved by both institutes (so queued and dispatched on commit)."""
    run = submitted_run(exercise=exercise, uk_staff=uk_staff, **kwargs)
    run_approve(actor=uk_approver, run=run)
    run_approve(actor=us_approver, run=run)
    run.refresh_from_db()
    return run


def db_retrying(predicate: Callable[[], Any]) -> Callable[[], Any]:
    """``predicate`` for ``wait_for`` that survives a database restart (the test's own connection breaks too)."""
    def check() -> Any:
        try:
            return predicate()
        except (OperationalError, InterfaceError):
            close_old_connections()
            from django.db import connection

            connection.close()
            return None
    return check


def run_in(run: Run, *states: str) -> Callable[[], Run | None]:
    def check() -> Run | None:
        run.refresh_from_db()
        return run if run.state in states else None
    return db_retrying(check)


def item_done_at_least(item: RunItem, count: int) -> Callable[[], bool]:
    return db_retrying(lambda: RunItem.objects.filter(pk=item.pk, done_samples__gte=count).exists())


def duplicated_samples(run: Run) -> list[dict[str, Any]]:
    return list(SampleResult.objects.filter(item__run=run).values("item", "sample_id", "epoch")
                .annotate(n=Count("id")).filter(n__gt=1))


def after_fault(run: Run, *, state: str = "succeeded", samples: int = FAULT_SAMPLES) -> None:
    """The checks every fault test ends with."""
    run.refresh_from_db()
    items = list(run.items.all())
    assert run.state == state, [(i.state, i.error) for i in items]
    assert duplicated_samples(run) == [], "a sample was stored more than once"
    if state == "succeeded":
        stored = SampleResult.objects.filter(item__run=run)
        assert stored.count() == samples * len(items), "a sample is missing"
        assert not stored.exclude(error="").exists(), "a sample kept an error"
        assert all(i.state == RunItem.State.SUCCEEDED and i.log_path for i in items)
        assert all(i.done_samples == samples for i in items), [i.done_samples for i in items]
    # what users saved: the run, its options, both approvals (an execution of a recurring run: its parent's)
    approved = run.parent if run.parent_id else run
    assert approved is not None and approved.name == "Fault run"
    assert approved.approvals.filter(decision="approved", voided_at__isnull=True).count() == 2
    chain = audit_chain_verify()
    assert chain.ok, (chain.broken_id, chain.reason)
