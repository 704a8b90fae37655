"""Celery tasks of the evaluations app, one module per domain (Celery's autodiscovery imports this package, so it
imports every task module). Tasks take IDs only, call one service, and carry an explicit, unchanging ``name=``."""

from evaluations.tasks.registry import model_connection_test
from evaluations.tasks.runs import (
    run_item_execute,
    run_items_dispatch_task,
    run_items_reconcile_task,
    run_recurring_fire_task,
    run_start_task,
)
from evaluations.tasks.search import samples_search_index_sweep_task, samples_search_index_task

__all__ = [
    "model_connection_test", "run_item_execute", "run_items_dispatch_task", "run_items_reconcile_task",
    "run_recurring_fire_task", "run_start_task", "samples_search_index_sweep_task", "samples_search_index_task",
]
