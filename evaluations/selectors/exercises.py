"""Reads of exercises, always through the access layer (who takes part is its fact, evaluations.rules.common)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import is_admin, visible_to
from accounts.models import Organisation
from evaluations.models import Exercise
from evaluations.rules.common import exercises_open_to, partner_ids_visible_to
from portal.queries import any_of


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
    from evaluations.rules.runs import run_state_label
    from evaluations.selectors.findings import finding_list, partner_current_releases

    def cut(queryset: Any) -> dict[str, Any]:
        rows = list(queryset[:OVERVIEW_LIST_SIZE])
        # fewer rows than asked for are all there are: counted only when the list was cut (a query saved per list)
        count = len(rows) if len(rows) < OVERVIEW_LIST_SIZE else queryset.count()
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
    # GROUP BY on the exercise's runs themselves: an index-only scan of (exercise, state), not a scan of every run
    counts = dict(runs.order_by().values_list("state").annotate(n=Count("pk")))
    by_state = [{"state": value, "label": run_state_label(state=value), "count": counts[value]}
                for value, _ in RunState.choices if counts.get(value)]
    findings = finding_list(user=user, exercise=exercise.pk)
    finding_table = exercise_findings_by_severity(findings=findings)
    per_state = finding_table["state_totals"]
    finding_counts = [{"label": label.lower(), "count": per_state[value]} for value, label in FindingState.choices
                      if per_state.get(value)]
    return {
        "partner": False,
        "models": cut(models),
        "tasks": cut(tasks),
        "runs_by_state": by_state,
        "runs_total": sum(counts.values()),
        "recent_runs": list(runs.select_related("created_by").order_by("-created_at", "-pk")[:5]),
        # the list shows each finding's title, state and severity: not its models and evaluations (4 queries)
        "findings": cut(findings.select_related(None).prefetch_related(None)),
        "finding_counts": finding_counts,
        "finding_table": finding_table,
        "grid": exercise_score_grid(user=user, exercise=exercise),
        "timeline": exercise_timeline(user=user, exercise=exercise),
        "may_plan": can(user, "create", Run) and exercise.archived_at is None
        and exercise.status != Exercise.Status.CLOSED,
    }


# --- The exercise dashboard (issue 13 part 5) ------------------------------------------------------------------------
# Each part is one query whatever the number of runs, items or samples; the page shows them to institute members
# only (a partner viewer's exercise page lists only what was released to them).

GRID_MAX_MODELS = 30
GRID_MAX_EVALUATIONS = 12
TIMELINE_SIZE = 15
# what a grid cell shows of its item (the rest of the row, the run's sample ids and plan among it, is not read)
GRID_ITEM_FIELDS = ("run__name", "model_version__number", "model_version__registered_model__name",
                    "task_version__number", "task_version__eval_task__name", "model_label", "task_label",
                    "metrics", "done_samples", "finished_at")


def score_band(metric: Any) -> dict[str, str] | None:
    """A score's band in words and a GOV.UK tag colour (the words are always shown: never colour alone), for a
    metric on a 0 to 1 scale (accuracy and the like); None for other scales."""
    if metric is None or not 0.0 <= metric.value <= 1.0:
        return None
    if metric.value >= 0.75:
        return {"text": "High", "tag_class": "govuk-tag govuk-tag--blue"}
    if metric.value >= 0.25:
        return {"text": "Medium", "tag_class": "govuk-tag govuk-tag--light-blue"}
    return {"text": "Low", "tag_class": "govuk-tag govuk-tag--grey"}


def _finished(item: Any) -> Any:
    from datetime import UTC, datetime

    return item.finished_at or datetime.min.replace(tzinfo=UTC)


def exercise_score_grid(*, user: Any, exercise: Exercise) -> dict[str, Any] | None:
    """Models (rows) × evaluations (columns) of the exercise: in each cell the newest succeeded item of that model
    version and evaluation version (an imported item: of its model and task names) with its main metric and 95%
    interval. One query (DISTINCT ON the pair). None when no item has finished with a score yet."""
    from django.db.models import F

    from evaluations.models import Run, RunItem
    from evaluations.models.runs import ItemState
    from evaluations.selectors.runs import item_main_metric

    pair = ("model_version_id", "task_version_id", "model_label", "task_label")
    newest = F("finished_at").desc(nulls_last=True)
    runs = visible_to(user, Run.objects.filter(exercise=exercise)).order_by().values("pk")
    # The newest item of each pair, ids only (a sort of narrow rows), read from the exercise's runs through the
    # items' run index; then the winners' rows with just the columns the cells show.
    winners = (RunItem.objects.filter(any_of("run_id", runs), state=ItemState.SUCCEEDED).exclude(metrics={})
               .order_by(*pair, newest, "-pk").distinct(*pair).values("pk")[:GRID_MAX_MODELS * GRID_MAX_EVALUATIONS * 2])
    items = list(
        visible_to(user, RunItem.objects.filter(pk__in=winners))
        .select_related("run", "model_version__registered_model", "task_version__eval_task")
        .only(*GRID_ITEM_FIELDS).order_by(*pair, newest, "-pk"))
    cells: dict[tuple[Any, Any], dict[str, Any]] = {}
    models: dict[Any, str] = {}
    tasks: dict[Any, str] = {}
    for item in items:
        model_key = item.model_version_id or item.model_label
        task_key = item.task_version_id or item.task_label
        metric = item_main_metric(item.metrics)
        if metric is None:
            continue
        known = cells.get((model_key, task_key))
        if known and _finished(known["item"]) >= _finished(item):
            continue  # the same versions under another label: keep the newest
        models.setdefault(model_key, item.model_name)
        tasks.setdefault(task_key, item.task_name)
        cells[(model_key, task_key)] = {"item": item, "metric": metric, "band": score_band(metric)}
    if not cells:
        return None
    model_keys = sorted(models, key=lambda key: models[key].lower())
    task_keys = sorted(tasks, key=lambda key: tasks[key].lower())
    shown_models, shown_tasks = model_keys[:GRID_MAX_MODELS], task_keys[:GRID_MAX_EVALUATIONS]
    return {
        "evaluations": [tasks[key] for key in shown_tasks],
        "rows": [(models[m], [cells.get((m, t)) for t in shown_tasks]) for m in shown_models],
        "more_models": len(model_keys) - len(shown_models),
        "more_evaluations": len(task_keys) - len(shown_tasks),
    }


def exercise_findings_by_severity(*, findings: QuerySet[Any]) -> dict[str, Any]:
    """The findings (as the reader sees them) counted by severity (most severe first) and state, in one query."""
    from django.db.models import Count

    from evaluations.models import Finding
    from evaluations.models.findings import FindingState, Severity

    counts: dict[tuple[str, str], int] = {
        (severity, state): n for severity, state, n in
        Finding.objects.filter(pk__in=findings.values("pk")).order_by().values_list("severity", "state")
        .annotate(n=Count("pk"))}
    state_totals = {state: sum(n for (_, s), n in counts.items() if s == state) for state in FindingState.values}
    rows = []
    for value, label in reversed(Severity.choices):
        row = [counts.get((value, state), 0) for state in FindingState.values]
        if any(row):
            rows.append({"severity": value, "label": label, "counts": row, "total": sum(row)})
    return {"states": [label for _, label in FindingState.choices], "rows": rows, "state_totals": state_totals,
            "total": sum(counts.values())}


TIMELINE_WORDS = {
    "submitted": "Run submitted for approval", "approved": "Run approved", "finished": "Run finished",
    "released": "Finding released to partners", "withdrawn": "Finding release withdrawn",
}


def exercise_timeline(*, user: Any, exercise: Exercise, limit: int = TIMELINE_SIZE) -> list[dict[str, Any]]:
    """The newest events of the exercise, newest first (at most ``limit``), from the runs' and releases'
    timestamps: runs submitted, approved and finished; findings released and withdrawn. One query (a UNION of
    each kind's newest ``limit``)."""
    from django.db.models import CharField, F, Value

    from evaluations.models import Release, Run

    runs = visible_to(user, Run.objects.filter(exercise=exercise)).order_by()
    releases = visible_to(user, Release.objects.filter(finding__exercise=exercise)).order_by()

    def part(queryset: QuerySet[Any], event: str, when: str, ref: str, label: str, detail: Any) -> QuerySet[Any]:
        # each part its own newest ``limit`` (for runs from an index on (exercise, that time)), so the union
        # sorts at most 5 x limit rows whatever the number of runs
        return (queryset.filter(**{f"{when}__isnull": False})
                .annotate(t_event=Value(event, output_field=CharField()),
                          t_at=F(when), t_ref=F(ref), t_label=F(label), t_detail=detail)
                .values("t_event", "t_at", "t_ref", "t_label", "t_detail").order_by(F(when).desc(), "-pk")[:limit])

    none = Value("", output_field=CharField())
    parts = [
        part(runs, "submitted", "submitted_at", "pk", "name", none),
        part(runs, "approved", "approved_at", "pk", "name", none),
        part(runs, "finished", "finished_at", "pk", "name", F("state")),
        part(releases, "released", "released_at", "finding_id", "finding__title", none),
        part(releases, "withdrawn", "withdrawn_at", "finding_id", "finding__title", none),
    ]
    events = parts[0].union(*parts[1:], all=True).order_by("-t_at", "-t_event")[:limit]
    return [{"event": row["t_event"], "text": TIMELINE_WORDS[row["t_event"]], "at": row["t_at"],
             "ref": row["t_ref"], "label": row["t_label"], "detail": row["t_detail"],
             "kind": "finding" if row["t_event"] in ("released", "withdrawn") else "run"} for row in events]
