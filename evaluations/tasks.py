"""Celery tasks of the evaluations app (autodiscovered). Run tasks live in tasks_runs."""

from evaluations.tasks_runs import (  # noqa: F401
    run_item_execute,
    run_items_dispatch_task,
    run_items_reconcile_task,
    run_recurring_fire_task,
    run_start_task,
)
