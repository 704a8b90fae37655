"""Reads of exercises, always through the access layer (who takes part is its fact, evaluations.rules.common)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import is_admin, visible_to
from accounts.models import Organisation
from evaluations.models import Exercise
from evaluations.rules.common import exercises_open_to, partner_ids_visible_to


def exercise_list(*, user: Any, include_archived: bool = False, status: str = "", q: str = "") -> QuerySet[Exercise]:
    qs = visible_to(user, Exercise.objects.prefetch_related("institutes", "partners"))
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by("-created_at", "-id")


def exercise_partners(*, user: Any, exercise: Exercise) -> list[Organisation]:
    """The invited partners the user may see (a partner viewer: only its own organisation)."""
    partners = list(exercise.partners.all())
    shown = set(partner_ids_visible_to(user, [p.pk for p in partners]))
    return [p for p in partners if p.pk in shown]


def exercises_user_may_add_to(user: Any) -> QuerySet[Exercise]:
    """Exercises an institute member may register models and tasks in, or plan runs in: the open exercises their
    institute takes part in (admins: none, they never write to the registry or act on runs)."""
    if is_admin(user):
        return Exercise.objects.none()
    return exercises_open_to(user)


def exercise_last_worked_in(*, user: Any) -> int | None:
    """The exercise of the user's newest run (the run form's default)."""
    from evaluations.models import Run

    return Run.objects.filter(created_by=user).order_by("-created_at").values_list("exercise_id", flat=True).first()


OVERVIEW_LIST_SIZE = 20


def exercise_overview(*, user: Any, exercise: Exercise) -> dict[str, Any]:
    """What an exercise's page lists (issue 12), as the reader may see it: its models, evaluations, runs counted by
    state (with the newest few) and findings (partners: only what was released to them). Lists are cut to a few rows
    and counted, so the page's queries do not grow with the exercise."""
    from django.db.models import Count, Max

    from accounts.access import can, is_partner_viewer, visible_to
    from evaluations.models import EvalTask, RegisteredModel, Run
    from evaluations.models.findings import FindingState
    from evaluations.models.runs import RunState
    from evaluations.selectors.findings import finding_list, partner_current_releases

    def cut(queryset: Any) -> dict[str, Any]:
        rows = list(queryset[:OVERVIEW_LIST_SIZE])
        count = queryset.count()
        return {"rows": rows, "count": count, "more": count - len(rows)}

    if is_partner_viewer(user):
        releases = cut(partner_current_releases(user=user, exercise=exercise.pk))
        return {"partner": True, "releases": releases}
    models = visible_to(user, RegisteredModel.objects.filter(exercises=exercise, archived_at__isnull=True)).select_related(
        "owner").annotate(latest_number=Max("versions__number"), version_count=Count("versions", distinct=True)
                          ).order_by("name", "pk")
    tasks = visible_to(user, EvalTask.objects.filter(exercises=exercise, archived_at__isnull=True)).select_related(
        "owner").annotate(latest_number=Max("versions__number")).order_by("name", "pk")
    runs = visible_to(user, Run.objects.filter(exercise=exercise))
    counts = dict(Run.objects.filter(pk__in=runs.values("pk")).values_list("state").annotate(n=Count("pk")))
    by_state = [{"state": value, "label": label, "count": counts[value]}
                for value, label in RunState.choices if counts.get(value)]
    findings = finding_list(user=user, exercise=exercise.pk)
    per_state = dict(findings.model.objects.filter(pk__in=findings.values("pk")).values_list("state")
                     .annotate(n=Count("pk")))
    finding_counts = [{"label": label.lower(), "count": per_state[value]} for value, label in FindingState.choices
                      if per_state.get(value)]
    return {
        "partner": False,
        "models": cut(models),
        "tasks": cut(tasks),
        "runs_by_state": by_state,
        "runs_total": sum(counts.values()),
        "recent_runs": list(runs.select_related("created_by").order_by("-created_at", "-pk")[:5]),
        "findings": cut(findings),
        "finding_counts": finding_counts,
        "may_plan": can(user, "create", Run) and exercise.archived_at is None
        and exercise.status != Exercise.Status.CLOSED,
    }
