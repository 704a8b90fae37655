"""Reads of the evaluation catalogue, always starting from the access layer."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from accounts.access import get_visible_or_404, visible_to
from evaluations.inspectai.catalogue import CatalogueEntry, catalogue_entries
from evaluations.models import EvalTask, TaskVersion

TASK_SORTS = {"name": "name", "-name": "-name", "created": "created_at", "-created": "-created_at",
              "owner": "owner__name", "-owner": "-owner__name"}


def task_list(*, user: Any, q: str = "", sort: str = "name", exercise: int | None = None,
              include_archived: bool = False) -> QuerySet[EvalTask]:
    qs = visible_to(user, EvalTask.objects.all())
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(description__icontains=q) | Q(versions__registry_name__icontains=q))
    if exercise:
        qs = qs.filter(exercises=exercise)
    qs = qs.select_related("owner").prefetch_related(
        "exercises",
        Prefetch("versions", queryset=TaskVersion.objects.select_related("created_by").order_by("-number"),
                 to_attr="ordered_versions"),
    )
    return qs.order_by(TASK_SORTS.get(sort, "name"), "pk").distinct()


def task_get(*, user: Any, pk: Any) -> EvalTask:
    return get_visible_or_404(user, EvalTask.objects.select_related("owner", "created_by"), pk=pk)


def task_versions(*, eval_task: EvalTask) -> list[TaskVersion]:
    return list(eval_task.versions.select_related("created_by", "grader_model_version__registered_model")
                .order_by("-number"))


def catalogue_search(*, q: str = "", source: str = "", offline_only: bool = False) -> list[CatalogueEntry]:
    entries = list(catalogue_entries())
    if q:
        needle = q.lower()
        entries = [e for e in entries if needle in e.name.lower() or needle in e.title.lower()
                   or needle in e.description.lower()]
    if source:
        entries = [e for e in entries if e.source == source]
    if offline_only:
        entries = [e for e in entries if not e.needs_network]
    return entries


def task_version_choices(*, user: Any, exercise_id: int | None) -> QuerySet[TaskVersion]:
    """Versions a run in the exercise may use (the run form): of evaluations in it and not archived, newest version of
    each evaluation first."""
    if exercise_id is None:
        return TaskVersion.objects.none()
    return visible_to(user, TaskVersion.objects.filter(
        eval_task__exercises=exercise_id, eval_task__archived_at__isnull=True,
    )).select_related("eval_task").order_by("eval_task__name", "eval_task_id", "-number")
