"""The names of the project's Celery tasks never change (queued messages and django-celery-beat rows carry them),
and every name a service sends is a registered task."""

from __future__ import annotations

from portal.celery import app

# The names as registered before the restructuring of issue 10 (printed from d1a563d): never change one.
TASK_NAMES = {
    "evaluations.run_item_execute",
    "evaluations.run_items_dispatch",
    "evaluations.run_items_reconcile",
    "evaluations.run_recurring_fire",
    "evaluations.run_start",
    "evaluations.tasks.model_connection_test",
    "portal.tasks.worker_probe",
    "portal.audit_anchor_export",  # issue 14
    "evaluations.samples_search_index",  # issue 13: search indexing off the insert path
    "evaluations.samples_search_index_sweep",
}


def _registered() -> set[str]:
    app.loader.import_default_modules()  # what a worker imports at start-up (autodiscovery)
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_the_registered_task_names_are_the_ones_queued_messages_carry():
    assert _registered() == TASK_NAMES


def test_every_task_a_service_sends_or_beat_schedules_is_registered():
    from django.conf import settings

    from evaluations.services import dispatch, registry, runs, search
    from portal import services as portal_services

    sent = {dispatch.DISPATCH_TASK, dispatch.EXECUTE_TASK, runs.START_TASK, runs.RECURRING_FIRE_TASK,
            registry.CONNECTION_TEST_TASK, portal_services.WORKER_PROBE_TASK, search.INDEX_TASK, search.SWEEP_TASK}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert sent | scheduled <= _registered()
