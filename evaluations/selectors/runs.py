"""Reads for runs: visible runs and samples with filters, queue positions, the run page (comparisons:
selectors/comparisons.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

from django.db.models import Count, Exists, Func, IntegerField, Min, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from accounts.access import is_admin, is_approver, visible_to
from evaluations.models import Exercise, Run, RunApproval, RunItem, SampleResult
from evaluations.models.runs import ItemState, RunState
from evaluations.rules.runs import (
    ACTIVE_STATES,
    RunFacts,
    StateLabel,
    item_state_label,
    run_actions_available,
    run_state_label,
)
from evaluations.selectors.dispatch import WAITING_WINDOW, dispatch_order


def run_list(*, user: Any, exercise_id: int | None = None, state: str | None = None,
             q: str | None = None) -> QuerySet[Run]:
    runs = visible_to(user, Run.objects.select_related("exercise", "created_by", "owner"))
    if exercise_id:
        runs = runs.filter(exercise_id=exercise_id)
    if state:
        runs = runs.filter(state=state)
    if q:
        runs = runs.filter(name__icontains=q)
    return runs.order_by("-created_at")


class ItemOrderedSamples(Sequence[SampleResult]):
    """A run's samples in the page's order (item, sample id, epoch), as a ``Paginator`` slices them, each item read
    through the unique index (item, sample_id, epoch) instead of a sort of the whole run (issue 13, "Speed": ORDER
    BY item_id, ... across several items made PostgreSQL sort every sample of the run, 20,000 for the comparison
    run of the scale bench, spilling to disk). ``len()`` is one query (the rows per item, ``GROUP BY item``), which
    ``Paginator`` takes as the count; a slice is one more: per item the part of the slice it holds (``WHERE item_id = k ORDER BY sample_id, epoch
    LIMIT n OFFSET o``; a part in the back half of its item is read backwards from the item's end, so that the
    first and the last pages both read only their rows), joined by ``UNION ALL``. ``samples`` must not be filtered
    on the item (each part and the count add theirs). Rows come without their transcript (``messages``: the page
    and the API list do not show it) and with their item set from ``items``."""

    ordered = True  # for Paginator: the order is fixed

    def __init__(self, *, samples: QuerySet[SampleResult], items: list[RunItem]) -> None:
        self._samples = samples.order_by().defer("messages")
        self._items = items  # the run's visible items, in the page's order (by id)
        self._per_item: dict[int, int] | None = None

    def per_item(self) -> dict[int, int]:
        if self._per_item is None:
            ids = [item.pk for item in self._items]
            self._per_item = dict(self._samples.filter(item_id__in=ids).values_list("item_id")
                                  .annotate(n=Count("*")).order_by()) if ids else {}
        return self._per_item

    def __len__(self) -> int:
        return sum(self.per_item().values())

    @overload
    def __getitem__(self, index: int) -> SampleResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[SampleResult]: ...

    def __getitem__(self, index: int | slice) -> SampleResult | list[SampleResult]:
        if isinstance(index, int):
            rows = self._slice(index, index + 1)
            if not rows:
                raise IndexError(index)
            return rows[0]
        if index.step not in (None, 1) or (index.start or 0) < 0 or (index.stop or 0) < 0:
            raise ValueError("ItemOrderedSamples takes slices without a step or negative bounds")
        return self._slice(index.start or 0, len(self) if index.stop is None else index.stop)

    def __iter__(self) -> Iterator[SampleResult]:
        return iter(self[:])  # every row in one query, not one per index

    def _part(self, item_id: int, n: int, low: int, high: int) -> tuple[QuerySet[SampleResult], bool]:
        """Rows ``low:high`` of the item's ``n``, and whether they come backwards (the back half: from the end).
        Past the item's first rows, a deferred join: the ids from ``LIMIT/OFFSET`` over the index on (item,
        sample id, epoch) that includes the id (an index-only scan of the rows skipped), then those rows by id.
        With ``OFFSET`` on the rows themselves, PostgreSQL sorted the whole item when the offset was deep (the middle
        of a 10,000-sample item: 20 ms; 0.7 ms so, docs/benchmarks.md §3)."""
        rows = self._samples.filter(item_id=item_id)
        backwards = low > n - high
        order = ("-sample_id", "-epoch") if backwards else ("sample_id", "epoch")
        start, stop = (n - high, n - low) if backwards else (low, high)
        if start == 0:
            return rows.order_by(*order)[:stop], backwards
        ids = rows.order_by(*order).values("pk")[start:stop]
        return self._samples.filter(item_id=item_id, pk__in=ids).order_by(*order)[:stop - start], backwards

    def _slice(self, start: int, stop: int) -> list[SampleResult]:
        counts, before = self.per_item(), 0
        parts: list[tuple[QuerySet[SampleResult], bool]] = []
        for item in self._items:
            n = counts.get(item.pk, 0)
            low, high = max(start - before, 0), min(stop - before, n)
            if low < high:
                parts.append(self._part(item.pk, n, low, high))
            before += n
            if before >= stop:
                break
        if not parts:
            return []
        if len(parts) == 1:
            part, backwards = parts[0]
            rows = list(part)[::-1] if backwards else list(part)
        else:  # the page's order, in the database's collation (at most a page of rows to sort)
            first, *others = (part for part, _ in parts)
            rows = list(first.union(*others, all=True).order_by("item_id", "sample_id", "epoch"))
        by_id = {item.pk: item for item in self._items}
        for row in rows:
            row.item = by_id[row.item_id]
        return rows


def sample_list(*, user: Any, run: Run, item_id: int | None = None, score: str | None = None,
                error: str | None = None, text: str | None = None) -> ItemOrderedSamples:
    """``score``: "correct" (> 0), "incorrect" (== 0 or none), or a number; ``error``: "yes"/"no". Ordered by item,
    sample id and epoch; three queries for a page whatever the number of samples (the items, the count per item,
    the page's rows: see ``ItemOrderedSamples``). A sample is visible when its item is (rules/runs.py: both are
    the exercise's), so the samples are those of the items ``visible_to`` gives, read by ``item_id`` alone: a join
    to the items and runs for the access check made PostgreSQL hash-join every item and run of the database."""
    items = visible_to(user, RunItem.objects.filter(run=run)).select_related(
        "model_version__registered_model", "task_version__eval_task").order_by("pk")
    if item_id:
        items = items.filter(pk=item_id)
    samples = SampleResult.objects.all()
    if score:
        if score == "correct":
            samples = samples.filter(score__gt=0)
        elif score == "incorrect":
            samples = samples.filter(Q(score__lte=0) | Q(score__isnull=True))
        else:
            try:
                samples = samples.filter(score=float(score))
            except ValueError:
                samples = samples.none()
    if error in {"yes", "true", "1"}:
        samples = samples.exclude(error="")
    elif error in {"no", "false", "0"}:
        samples = samples.filter(error="")
    if text:
        samples = samples.filter(Q(input_text__icontains=text) | Q(output__icontains=text)
                                 | Q(explanation__icontains=text) | Q(sample_id=text))
    return ItemOrderedSamples(samples=samples, items=list(items))


def queue_positions(*, items: Iterable[RunItem]) -> dict[int, int]:
    """1-based place of each queued item among ``items`` that waits to be sent to a worker, in the dispatcher's
    order after the items already sent (those are "Starting" and have no place: no two items share one). Compute it
    once for a page, not per item: one query whatever the items' states (none when no item is given), so that a
    page costs the same number of queries whether or not one of its items waits (issue 13: the API's run list made
    two more when its page held a waiting item). That query reads the dispatcher's window of waiting items, each
    row with the number of queued items already sent (an uncorrelated subquery, counted once), and only when one
    of ``items`` waits (an uncorrelated EXISTS on their ids): for a page where none does, PostgreSQL reads no row."""
    items = list(items)
    if not items:
        return {}
    wanted = {item.pk for item in items if item.state == ItemState.QUEUED and item.enqueued_at is None}
    waiting = RunItem.objects.filter(state=ItemState.QUEUED, enqueued_at__isnull=True)
    sent = RunItem.objects.filter(state=ItemState.QUEUED, enqueued_at__isnull=False).order_by()
    window = list(waiting.filter(Exists(waiting.filter(pk__in=[item.pk for item in items])))
                  .annotate(ahead=Subquery(sent.values(n=Func("pk", function="COUNT", output_field=IntegerField()))))
                  .select_related("run").only("pk", "queued_at", "run", "run__owner")
                  .order_by("queued_at", "pk")[:WAITING_WINDOW])
    positions: dict[int, int] = {}
    for index, other in enumerate(dispatch_order(window)):
        if other.pk in wanted:
            positions[other.pk] = other.ahead + index + 1  # type: ignore[attr-defined]
    return positions


# --- The run page --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MainMetric:
    """An item's main metric: the first scorer's first metric in its Inspect log, with a 95% interval from the
    log's standard error (normal approximation; an accuracy's interval is kept within 0 to 1)."""

    scorer: str
    name: str
    value: float
    stderr: float | None = None

    @property
    def ci95(self) -> tuple[float, float] | None:
        if self.stderr is None:
            return None
        low, high = self.value - 1.96 * self.stderr, self.value + 1.96 * self.stderr
        if self.name == "accuracy":
            low, high = max(0.0, low), min(1.0, high)
        return low, high


def item_main_metric(metrics: Any) -> MainMetric | None:
    if not isinstance(metrics, dict):
        return None
    for scorer, values in metrics.items():
        if not isinstance(values, dict):
            continue
        stderr = values.get("stderr")
        for name, value in values.items():
            if name != "stderr" and isinstance(value, int | float) and not isinstance(value, bool):
                return MainMetric(scorer=str(scorer), name=str(name), value=float(value),
                                  stderr=float(stderr) if isinstance(stderr, int | float) else None)
    return None


@dataclass
class ItemRow:
    """One model × evaluation of a run as its page shows it."""

    item: RunItem
    label: StateLabel
    metric: MainMetric | None
    position: int | None
    duration: float | None  # seconds, so far for a running item
    tokens: int
    log_href: str = ""

    @property
    def comparable(self) -> bool:
        return self.item.state in RunItem.FINISHED and bool(self.item.log_path or self.item.done_samples)


SORT_KEYS: dict[str, Callable[[ItemRow], Any]] = {
    "model": lambda r: r.item.model_name.lower(),
    "evaluation": lambda r: r.item.task_name.lower(),
    "status": lambda r: r.label.text,
    "score": lambda r: r.metric.value if r.metric else None,
    "samples": lambda r: r.item.done_samples,
    "errors": lambda r: r.item.error_samples,
    "duration": lambda r: r.duration,
    "tokens": lambda r: r.tokens,
    "cost": lambda r: r.item.cost,
}


# The sortable columns of the results table: (sort key, heading, numeric).
RESULT_COLUMNS = (
    ("model", "Model", False), ("evaluation", "Evaluation", False), ("status", "Status", False),
    ("score", "Score (95% CI)", True), ("samples", "Samples", True), ("errors", "Errors", True), ("duration", "Time", True),
    ("tokens", "Tokens", True), ("cost", "Cost (US$)", True),
)


def item_rows_sort(rows: list[ItemRow], *, sort: str, order: str) -> list[ItemRow]:
    """Rows by ``sort`` (a SORT_KEYS name; anything else keeps the run's order), rows without a value last."""
    key = SORT_KEYS.get(sort)
    if key is None:
        return rows
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    return sorted(known, key=key, reverse=order == "desc") + unknown


def run_item_rows(*, run: Run, items: list[RunItem], now: datetime | None = None) -> list[ItemRow]:
    now = now or timezone.now()
    positions = queue_positions(items=items)
    rows = []
    for item in items:
        end = item.finished_at or (now if item.state == ItemState.RUNNING else None)
        rows.append(ItemRow(
            item=item,
            label=item_state_label(state=item.state, run_state=run.state, sent=item.enqueued_at is not None,
                                   stopping=item.cancel_requested_at is not None),
            metric=item_main_metric(item.metrics), position=positions.get(item.pk),
            duration=(end - item.started_at).total_seconds() if item.started_at and end else None,
            tokens=item.input_tokens + item.output_tokens,
            log_href=reverse("run-item-log", kwargs={"pk": item.pk, "ext": "json" if item.log_path.endswith(".json")
                                                     else "eval"}) if item.log_path else "",
        ))
    return rows


GRID_MAX_EVALUATIONS = 5  # more columns than this do not fit the page: the results table below has them all


def results_grid(rows: list[ItemRow]) -> dict[str, Any] | None:
    """Models (rows, in the order of the sorted results) × evaluations (columns): each cell the item's row.
    None for a run of one model or one evaluation (the results table says it all) or too many evaluations."""
    tasks: dict[Any, str] = {}
    models: dict[Any, ItemRow] = {}
    cells: dict[tuple[Any, Any], ItemRow] = {}
    for row in rows:
        task_key = row.item.task_version_id or row.item.task_label
        model_key = row.item.model_version_id or row.item.model_label
        tasks.setdefault(task_key, row.item.task_name)
        models.setdefault(model_key, row)
        cells[(model_key, task_key)] = row
    if len(tasks) < 2 or len(models) < 2 or len(tasks) > GRID_MAX_EVALUATIONS:
        return None
    ordered_tasks = sorted(tasks, key=lambda key: tasks[key].lower())
    return {"evaluations": [tasks[key] for key in ordered_tasks],
            "models": [(first.item, [cells.get((model_key, task_key)) for task_key in ordered_tasks])
                       for model_key, first in models.items()]}


def run_page(*, user: Any, run: Run, sort: str = "", order: str = "asc", items_only: bool = False) -> dict[str, Any]:
    """Everything the run page and its polled partial show, in a fixed number of queries whatever the number of
    items: the results rows, the state label, the approvals and the actions the user can take now. ``items_only``:
    what the polled partial (``_items.html``) shows, without the page's institutes and the run's model and
    evaluation lists (three queries on every poll, every 2 s, that the partial never shows)."""
    items = list(run.items.select_related("model_version__registered_model", "task_version__eval_task"))
    rows = run_item_rows(run=run, items=items)
    approvals = list(run.approvals.select_related("approver", "institute").order_by("created_at"))
    current = {a.institute_id: a for a in approvals if a.revision == run.revision and a.voided_at is None
               and a.decision == RunApproval.Decision.APPROVED}
    stopping = any(i.state == ItemState.RUNNING and i.cancel_requested_at is not None for i in items)
    facts = RunFacts(approved_institutes=frozenset(current), has_items=bool(items), stopping=stopping,
                     retryable_items=any(i.state in (ItemState.FAILED, ItemState.CANCELLED) for i in items))
    order = "desc" if order == "desc" else "asc"
    sort = sort if sort in SORT_KEYS else ""
    sorted_rows = item_rows_sort(rows, sort=sort, order=order)
    page = {
        "run": run, "items": items, "rows": sorted_rows, "grid": results_grid(sorted_rows),
        "sort": sort, "order": order, "result_columns": RESULT_COLUMNS,
        "run_label": run_state_label(state=run.state, stopping=stopping),
        "actions": run_actions_available(user=user, run=run, facts=facts),
        "approvals": approvals,
        "active": run.state in ACTIVE_STATES,
        "comparable": sum(1 for r in rows if r.comparable),
    }
    if not items_only:
        page.update({
            "institute_status": [(inst, current.get(inst.pk)) for inst in run.exercise.institutes.all()],
            "run_models": list(run.model_versions.select_related("registered_model").order_by("pk")),
            "run_tasks": list(run.task_versions.select_related("eval_task").order_by("pk")),
        })
    return page


COMPARE_PICKER_SIZE = 50
# what the compare picker shows of an item (its run's name, the model's and evaluation's names and versions)
PICKER_ITEM_FIELDS = ("run__name", "run__created_at", "model_version__number", "model_version__registered_model__name",
                      "task_version__number", "task_version__eval_task__name", "model_label", "task_label")


def exercise_comparable_items(*, user: Any, exercise: Any,
                              limit: int = COMPARE_PICKER_SIZE) -> list[tuple[str, list[RunItem]]]:
    """An exercise's newest ``limit`` finished items with results (newest runs first), grouped by evaluation version
    (only items of one version are compared); one query, which reads the newest runs from the index on (exercise,
    created) and only the columns the picker shows, whatever the number of runs."""
    items = (visible_to(user, RunItem.objects.filter(run__exercise=exercise, state__in=RunItem.FINISHED))
             .filter(Q(done_samples__gt=0) | ~Q(log_path=""))
             .select_related("run", "model_version__registered_model", "task_version__eval_task")
             .only(*PICKER_ITEM_FIELDS)
             .order_by("-run__created_at", "pk")[:limit])
    groups: dict[Any, list[RunItem]] = {}
    for item in items:
        groups.setdefault(item.task_version_id or item.task_label, []).append(item)
    return sorted(((group[0].task_name, group) for group in groups.values()), key=lambda g: g[0].lower())


# --- Home page (issue 12): what waits for the user ------------------------------------------------------------

HOME_LIST_SIZE = 5


def run_list_to_fix(*, user: Any, limit: int = HOME_LIST_SIZE) -> list[Run]:
    """The user's own runs that need them: rejected (to change and submit again) or drafts not yet submitted."""
    runs = run_list(user=user).filter(created_by=user, origin=Run.Origin.PORTAL,
                                      state__in=[RunState.REJECTED, RunState.DRAFT], parent__isnull=True)
    return list(runs.order_by("-updated_at", "-pk")[:limit])


def run_list_finished_recently(*, user: Any, days: int = 14, limit: int = HOME_LIST_SIZE) -> list[Run]:
    """The user's own runs that ended (succeeded, partly, failed or cancelled) in the last ``days`` days."""
    since = timezone.now() - timedelta(days=days)
    runs = run_list(user=user).filter(created_by=user, finished_at__gte=since, state__in=[
        RunState.SUCCEEDED, RunState.PARTIALLY_SUCCEEDED, RunState.FAILED, RunState.CANCELLED])
    return list(runs.order_by("-finished_at", "-pk")[:limit])


def run_list_awaiting_decision(*, user: Any) -> QuerySet[Run]:
    """Submitted runs an approver may decide on for their institute: their institute takes part, it has not approved
    the run's current revision, and the approver did not submit it. Empty for anyone else."""
    if not is_approver(user) or is_admin(user):
        return Run.objects.none()
    decided = RunApproval.objects.filter(run=OuterRef("pk"), revision=OuterRef("revision"),
                                         institute_id=user.organisation_id, voided_at__isnull=True,
                                         decision=RunApproval.Decision.APPROVED)
    return (run_list(user=user).filter(state=RunState.SUBMITTED, exercise__institutes=user.organisation_id)
            .exclude(exercise__status=Exercise.Status.CLOSED).exclude(exercise__archived_at__isnull=False)
            .exclude(created_by=user).exclude(Exists(decided)).order_by("submitted_at", "pk"))


def run_list_recent(*, user: Any, limit: int = HOME_LIST_SIZE) -> list[Run]:
    """The newest runs of the exercises the user takes part in (admins: all)."""
    return list(run_list(user=user)[:limit])


def run_item_health(*, user: Any) -> dict[str, Any]:
    """What the database says about the workers (admins' home page): items running with a live lease, items whose
    lease expired (a worker died; the reconciler re-queues them), items waiting and how long the oldest has waited."""
    if not is_admin(user):
        return {}
    now = timezone.now()
    facts = RunItem.objects.aggregate(
        running=Count("pk", filter=Q(state=ItemState.RUNNING, lease_expires_at__gte=now)),
        expired=Count("pk", filter=Q(state=ItemState.RUNNING) & (Q(lease_expires_at__lt=now)
                                                                 | Q(lease_expires_at__isnull=True))),
        queued=Count("pk", filter=Q(state=ItemState.QUEUED)),
        oldest_queued=Min("queued_at", filter=Q(state=ItemState.QUEUED)),
    )
    facts["oldest_wait_minutes"] = (int((now - facts["oldest_queued"]).total_seconds() // 60)
                                    if facts["oldest_queued"] else None)
    return facts


def run_action_message(*, run: Run, action: str, actor: Any) -> str:
    """What the success banner says after an action on a run (issue 12): what happened, and what happens next."""
    run.refresh_from_db()
    label = f"run {run.pk} ({run.name})"
    if action in ("submit", "approve"):
        institutes = list(run.exercise.institutes.order_by("name"))
        approved = set(RunApproval.objects.filter(run=run, revision=run.revision, voided_at__isnull=True,
                                                  decision=RunApproval.Decision.APPROVED)
                       .values_list("institute_id", flat=True))
        waiting = [org.name for org in institutes if org.pk not in approved]
        names = " and ".join(waiting)
        if action == "submit":
            return f"You submitted {label} for approval. It needs the approval of {names}."
        done = f"You approved {label} for {actor.organisation.name}."
        if waiting:
            return f"{done} It now needs {names}’s approval."
        if run.schedule == Run.Schedule.AT and run.run_at:
            return f"{done} Every institute has approved it: it will run at {run.run_at:%H:%M on %d %b %Y} (UTC)."
        if run.schedule == Run.Schedule.RECURRING:
            return f"{done} Every institute has approved it: it will run on its schedule ({run.cron})."
        return f"{done} Every institute has approved it: it is queued to run now."
    if action == "reject":
        return f"You rejected {label}. {run.created_by.email} has been told your reason and can change it."
    if action == "cancel":
        return f"You cancelled {label}. Items still running stop within a few seconds; finished ones keep results."
    if action == "retry":
        return f"You queued the failed and cancelled items of {label} again."
    return f"Done: {action} {label}."


# --- An item's error in plain words (issue 12 part 6) -------------------------------------------------------------
# An item's stored error is technical (an exception from Inspect or a provider, scrubbed and cut to one line): people
# see a plain reason and what to do, portal admins the detail too, as for the connection test
# (selectors/registry.py). The portal's own messages are plain already and are shown as they are. First match wins.

_ITEM_PLAIN_PREFIXES = ("The run's token budget", "The run's cost budget", "The worker running this item stopped")
_ITEM_REASONS: list[tuple[tuple[str, ...], str]] = [
    (("endpoint is not allowed", "base URL is not allowed"),
     "The portal may not connect to this model's base URL. Use the model's public address, then retry."),
    (("decrypt", "Decryption"), "The model's stored API key could not be read. Set the API key again, then retry."),
    (("401", "403", "Unauthorized", "Authentication", "PermissionDenied", "Forbidden"),
     "The model's provider refused the API key. Check the API key on the model's page, then retry."),
    (("_API_KEY", "api_key", "API key", "environment variable"),
     "The model's provider needs an API key and none is set. Set the API key on the model's page, then retry."),
    (("429", "RateLimit", "rate limit", "quota"),
     "The model's provider limited the requests. Retry in a few minutes, or lower the run's connections."),
    (("404", "NotFound", "model_not_found", "does not exist"),
     "The provider does not know this model. Check the model's Inspect name."),
    (("Timeout", "timed out", "time limit", "TimeLimit"),
     "The evaluation took longer than allowed. Retry with fewer samples, or ask a portal admin."),
    (("Connect", "connection", "refused", "Name or service not known", "getaddrinfo", "unreachable"),
     "The worker could not reach the model's server. Check its base URL and that it is running, then retry."),
    (("fail_on_error", "sample errors", "samples failed"),
     "Too many samples failed. Open the samples with an error to see why, then retry."),
    (("wrote no log",), "The evaluation stopped before it wrote a log. Retry, or ask a portal admin."),
]
ITEM_ERROR_FALLBACK = "The evaluation failed. Retry the item; a portal admin can see why."


def run_item_error_reason(*, error: str) -> str:
    """The plain reason shown to people for an item's stored error ("" when there is none): never an exception
    name, an environment variable or a stack trace."""
    if not error:
        return ""
    if error.startswith(_ITEM_PLAIN_PREFIXES):
        return error
    for needles, reason in _ITEM_REASONS:
        if any(needle.lower() in error.lower() for needle in needles):
            return reason
    return ITEM_ERROR_FALLBACK
