"""The dispatcher: institutes interleave, one big run never starves others, each model's connection limit holds;
scheduled runs start when their time comes; the reconciler is idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evaluations.models import Run, RunItem
from evaluations.selectors.dispatch import dispatch_order
from evaluations.selectors.runs import queue_positions
from evaluations.services.dispatch import run_items_dispatch
from evaluations.services.runs import run_approve, run_create, run_items_reconcile
from tests.support.factories import model_version, task_version

pytestmark = pytest.mark.django_db


def _approved(actor, exercise, approvers, models, tasks, **options):  # type: ignore[no-untyped-def]
    run = run_create(actor=actor, exercise=exercise, models=models, tasks=tasks, options=options, submit=True)
    for approver in approvers:
        run_approve(actor=approver, run=run)
    run.refresh_from_db()
    return run


@pytest.fixture
def two_runs(exercise, uk_staff, us_staff, uk_approver, us_approver, django_capture_on_commit_callbacks):
    """A big UK run (6 items) approved first, then a small US run (1 item)."""
    big_model = model_version(exercise=exercise, user=uk_staff, name="Big", max_connections=100)
    tasks = [task_version(exercise=exercise, user=uk_staff, name=f"t{i}") for i in range(6)]
    us_model = model_version(exercise=exercise, user=us_staff, name="US model", max_connections=100)
    with django_capture_on_commit_callbacks(execute=False):
        big = _approved(uk_staff, exercise, [uk_approver, us_approver], [big_model], tasks)
        small = _approved(us_staff, exercise, [uk_approver, us_approver], [us_model], tasks[:1])
    return big, small


def test_institutes_interleave_so_a_big_run_does_not_starve_a_small_one(two_runs):
    big, small = two_runs
    waiting = list(RunItem.objects.filter(state="queued").select_related("run").order_by("queued_at", "pk"))
    order = dispatch_order(waiting)
    assert [i.run_id for i in order[:3]] == [big.pk, small.pk, big.pk]
    small_item = small.items.get()
    assert queue_positions(items=[small_item]) == {small_item.pk: 2}


def test_dispatch_sends_only_as_many_items_as_are_allowed_in_flight(two_runs, settings,
                                                                     django_capture_on_commit_callbacks):
    big, small = two_runs
    settings.RUNS_MAX_ITEMS_IN_FLIGHT = 2
    with django_capture_on_commit_callbacks(execute=False):
        sent = run_items_dispatch()
        assert run_items_dispatch() == [], "a second dispatch sends nothing more while the slots are taken"
    assert len(sent) == 2
    assert small.items.get().pk in sent
    assert RunItem.objects.filter(enqueued_at__isnull=False).count() == 2


def test_a_models_connection_limit_holds_across_items(exercise, uk_staff, uk_approver, us_approver,
                                                       django_capture_on_commit_callbacks):
    limited = model_version(exercise=exercise, user=uk_staff, name="Limited", max_connections=4)
    tasks = [task_version(exercise=exercise, user=uk_staff, name=f"t{i}") for i in range(3)]
    with django_capture_on_commit_callbacks(execute=False):
        run = _approved(uk_staff, exercise, [uk_approver, us_approver], [limited], tasks, max_connections=2)
        sent = run_items_dispatch()
    assert len(sent) == 2, "two items of 2 connections fill the model's 4"
    RunItem.objects.filter(pk=sent[0]).update(state="succeeded")
    with django_capture_on_commit_callbacks(execute=False):
        assert len(run_items_dispatch()) == 1, "a finished item frees its connections"
    assert run.items.filter(enqueued_at__isnull=False).count() == 3


def test_a_run_scheduled_at_a_time_waits_until_then(exercise, uk_staff, uk_approver, us_approver, mock_model,
                                                    counting_task, django_capture_on_commit_callbacks):
    later = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=False):
        run = _approved(uk_staff, exercise, [uk_approver, us_approver], [mock_model], [counting_task],
                        schedule="at", run_at=later)
        assert run.state == Run.State.APPROVED
        assert run_items_reconcile()["started"] == 0
        Run.objects.filter(pk=run.pk).update(run_at=timezone.now() - timedelta(seconds=1))
        assert run_items_reconcile()["started"] == 1
        assert run_items_reconcile()["started"] == 0
    run.refresh_from_db()
    assert run.state == Run.State.QUEUED


def test_the_reconciler_requeues_expired_leases_once(draft_run, django_capture_on_commit_callbacks):
    item = draft_run.items.get()
    RunItem.objects.filter(pk=item.pk).update(state="running", lease_owner="gone:1",
                                              lease_expires_at=timezone.now() - timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=False):
        first = run_items_reconcile()
        second = run_items_reconcile()
    assert first["requeued"] == 1 and second["requeued"] == 0
    item.refresh_from_db()
    assert item.state == "queued" and item.lease_owner == ""
