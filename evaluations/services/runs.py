"""Writes for joint test runs. Every state change is a conditional UPDATE (``filter(pk=, state=).update()``);
losing one raises ``InvalidTransition``. Every service is one transaction with its audit event inside.

Run states:
    draft -> submitted                      run_submit (the creator)
    submitted -> draft                      run_update (an edit voids approvals; revision += 1)
    draft -> draft                          run_update
    submitted -> approved                   run_approve, once one approver of each taking-part institute approved
    submitted -> rejected                   run_reject (reason)
    approved -> queued                      run_start (schedule "now": at approval; "at": at run_at; recurring:
                                            each cron firing creates an execution run that starts approved)
    queued -> running                       first item claimed by a worker
    queued|running -> succeeded | partially_succeeded | failed | cancelled   run_refresh_state, once all items ended
    draft|submitted|approved|queued|running -> cancelled                     run_cancel
    succeeded|partially_succeeded|failed|cancelled -> queued                 run_item_retry (one item re-queued)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.access import require, visible_to
from evaluations.models import Exercise, ModelVersion, Notification, Run, RunApproval, RunItem, TaskVersion
from evaluations.models.runs import ItemState, RunState
from evaluations.rules.runs import CANCELLABLE_STATES, EDITABLE_STATES, FINISHED_STATES
from evaluations.selectors.power import power_plan_build
from evaluations.services import dispatch, registry
from evaluations.services.notifications import notifications_settle, notify
from evaluations.services.signoff import AlreadySignedOff, signoff_approvers, signoff_decide
from portal.audit import audit_record
from portal.errors import Conflict
from portal.limits import text_check
from portal.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

NOT_IN_EXERCISE = "Your institute does not take part in this exercise, or the exercise is closed."
# The tasks this module sends (their explicit name= in evaluations/tasks/runs.py).
START_TASK = "evaluations.run_start"
RECURRING_FIRE_TASK = "evaluations.run_recurring_fire"

OPTION_FIELDS = (
    "name", "limit", "sample_ids", "epochs", "max_samples", "max_connections", "seed", "token_budget",
    "cost_budget", "fail_on_error", "schedule", "run_at", "cron", "approval_valid_until",
)


MAX_EPOCHS = 100
MAX_SAMPLE_IDS = 10_000
SAMPLE_ID_MAX = 200
CRON_FIELDS = (("minute", "minute"), ("hour", "hour"), ("day_of_month", "day of the month"),
               ("month_of_year", "month"), ("day_of_week", "day of the week"))
# Whole-number options: (least, most). The most are sensible ceilings, well inside the database's columns.
NUMBER_RANGES = {
    "limit": (1, 10_000_000),
    "epochs": (1, MAX_EPOCHS),
    "max_samples": (1, 100_000),
    "max_connections": (1, 10_000),
    "seed": (-(2**31), 2**31 - 1),
    "token_budget": (1, 10**15),
}


def cron_validate(value: Any) -> str:
    """A five-field cron expression, each field parsed as django-celery-beat's scheduler will (celery's crontab):
    ranges, steps, lists and names (mon, jan) within each field's bounds."""
    from celery.schedules import crontab

    parts = str(value or "").split()
    if len(parts) != 5:
        raise ValidationError({"cron": ["Give a cron expression of five fields: minute hour day-of-month month "
                                        "day-of-week, e.g. 0 3 * * 1."]})
    for (argument, label), part in zip(CRON_FIELDS, parts, strict=True):
        try:
            crontab(**{argument: part})
        except Exception as exc:  # celery raises ValueError, and others for odd steps such as */0
            raise ValidationError({"cron": [f"The {label} field {part!r} is not valid: {exc}"]}) from None
    return " ".join(parts)


def _option_types_check(options: dict[str, Any], errors: dict[str, str]) -> None:
    """The options' types and ranges, whatever face sent them (the API and the pages check the same)."""
    from decimal import Decimal, InvalidOperation

    name = options.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        errors["name"] = "Enter a name of at most 200 characters."
    for key, (low, high) in NUMBER_RANGES.items():
        value = options.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors[key] = "Enter a whole number."
        elif not low <= value <= high:
            errors[key] = f"Enter a whole number from {low:,} to {high:,}."
    sample_ids = options.get("sample_ids")
    if sample_ids not in (None, []) and (
            not isinstance(sample_ids, list | tuple) or len(sample_ids) > MAX_SAMPLE_IDS
            or not all((isinstance(i, str) and 1 <= len(i) <= SAMPLE_ID_MAX)
                       or (isinstance(i, int) and not isinstance(i, bool)) for i in sample_ids)):
        errors["sample_ids"] = (f"Give a list of at most {MAX_SAMPLE_IDS:,} sample ids, each text of 1 to "
                                    f"{SAMPLE_ID_MAX} characters or a whole number.")
    budget = options.get("cost_budget")
    if budget is not None:
        try:
            amount = Decimal(str(budget))
            if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 10:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["cost_budget"] = "Give a cost budget of 0 or more (USD, below 10,000,000,000)."
    fail_on_error = options.get("fail_on_error")
    if fail_on_error is not None and (isinstance(fail_on_error, bool) or not isinstance(fail_on_error, int | float)
                                      or not 0 <= fail_on_error <= 1e9):
        errors["fail_on_error"] = "Give a fraction between 0 and 1, or a number of samples."


class InvalidTransition(Conflict):
    """The run or item was not in the state the action needs (another request changed it first): 409."""


def _transition(model: type[Any], pk: int, from_states: Iterable[str], to_state: str, **fields: Any) -> None:
    from_states = tuple(from_states)
    updated = model.objects.filter(pk=pk, state__in=from_states).update(state=to_state, **fields)
    if not updated:
        current = model.objects.filter(pk=pk).values_list("state", flat=True).first()
        raise InvalidTransition(
            f"{model._meta.verbose_name.capitalize()} {pk} is {current or 'gone'}; this needs it to be "
            f"{' or '.join(from_states)}."
        )


def _snapshot(run: Run) -> dict[str, Any]:
    return {
        "state": run.state,
        "revision": run.revision,
        "name": run.name,
        "models": sorted(run.model_versions.values_list("pk", flat=True)),
        "tasks": sorted(run.task_versions.values_list("pk", flat=True)),
        **{name: getattr(run, name) for name in OPTION_FIELDS if name != "name"},
    }


# --- Planning -------------------------------------------------------------------------------------------

def _choices_check(*, actor: Any, exercise: Exercise, models: Sequence[ModelVersion],
                   tasks: Sequence[TaskVersion]) -> dict[str, str]:
    """Models and evaluations are picked through the access layer: each must be visible to the actor, belong to
    the run's exercise and not be archived. An invisible one is reported like an unknown one (no existence leak)."""
    errors: dict[str, str] = {}
    visible_models = set(visible_to(actor, ModelVersion.objects.filter(pk__in=[mv.pk for mv in models]))
                         .values_list("pk", flat=True))
    for mv in models:
        if mv.pk not in visible_models:
            errors["models"] = f"Model version {mv.pk} does not exist."
        elif mv.registered_model.archived_at is not None:
            errors["models"] = f"{mv.registered_model.name} is archived: it cannot be chosen for a new run."
        elif not mv.registered_model.exercises.filter(pk=exercise.pk).exists():
            errors["models"] = f"{mv} is not registered in this exercise."
    visible_tasks = set(visible_to(actor, TaskVersion.objects.filter(pk__in=[tv.pk for tv in tasks]))
                        .values_list("pk", flat=True))
    for tv in tasks:
        if tv.pk not in visible_tasks:
            errors["tasks"] = f"Evaluation version {tv.pk} does not exist."
        elif tv.eval_task.archived_at is not None:
            errors["tasks"] = f"{tv.eval_task.name} is archived: it cannot be chosen for a new run."
        elif not tv.eval_task.exercises.filter(pk=exercise.pk).exists():
            errors["tasks"] = f"{tv} is not in this exercise's catalogue."
    return errors


def _clean_options(*, exercise: Exercise, models: Sequence[ModelVersion], tasks: Sequence[TaskVersion],
                   options: dict[str, Any], actor: Any = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    unknown = set(options) - set(OPTION_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown option."))
    if not models:
        errors["models"] = "Choose at least one model."
    if not tasks:
        errors["tasks"] = "Choose at least one evaluation."
    if actor is not None:
        errors.update(_choices_check(actor=actor, exercise=exercise, models=models, tasks=tasks))
    else:
        for mv in models:
            if not mv.registered_model.exercises.filter(pk=exercise.pk).exists():
                errors["models"] = f"{mv} is not registered in this exercise."
        for tv in tasks:
            if not tv.eval_task.exercises.filter(pk=exercise.pk).exists():
                errors["tasks"] = f"{tv} is not in this exercise's catalogue."
    if options.get("limit") is not None and options.get("sample_ids"):
        errors["limit"] = "Give a sample limit or chosen sample ids, not both."
    if isinstance(options.get("max_connections"), int) and models:
        ceiling = min(mv.max_connections for mv in models)
        if options["max_connections"] > ceiling:
            errors["max_connections"] = f"At most {ceiling}: the lowest connection limit of the chosen models."
    _option_types_check(options, errors)
    schedule = options.get("schedule") or Run.Schedule.NOW
    if schedule not in Run.Schedule.values:
        errors["schedule"] = "Choose now, at or recurring."
    if schedule == Run.Schedule.AT and not options.get("run_at"):
        errors["run_at"] = "Give the time to run at."
    if schedule == Run.Schedule.RECURRING or options.get("cron"):
        try:
            options["cron"] = cron_validate(options.get("cron"))
        except ValidationError as exc:
            errors["cron"] = exc.message_dict["cron"][0]
    if schedule == Run.Schedule.RECURRING:
        if not options.get("approval_valid_until"):
            errors["approval_valid_until"] = "Give the date until which the approval allows repeats."
        elif options["approval_valid_until"] <= timezone.now():
            errors["approval_valid_until"] = "The approval must stay valid until a time in the future."
    if errors:
        raise ValidationError(errors)
    return options


def _expand_items(run: Run) -> None:
    RunItem.objects.filter(run=run).delete()
    RunItem.objects.bulk_create([
        RunItem(run=run, model_version=mv, task_version=tv, model_label=mv.provider_model,
                task_label=tv.registry_name or tv.eval_task.name)
        for mv in run.model_versions.select_related("registered_model").order_by("pk")
        for tv in run.task_versions.select_related("eval_task").order_by("pk")
    ])


def _power_plan_store(*, actor: Any, run: Run, models: Sequence[ModelVersion], tasks: Sequence[TaskVersion],
                      difference: float | None) -> None:
    """The run's power plan (issue 13), computed as its planner sees the earlier results, stored with the run so
    that approvers read what the planner read. Part of the caller's transaction."""
    ordered = sorted(tasks, key=lambda tv: tv.pk)
    run.power_plan = power_plan_build(user=actor, task_versions=ordered, model_count=len(models), limit=run.limit,
                                      sample_ids=run.sample_ids or None, epochs=run.epochs, difference=difference)
    Run.objects.filter(pk=run.pk).update(power_plan=run.power_plan)


def power_difference_check(value: Any) -> float | None:
    """The difference to detect, in points: above 0 and at most 100, or nothing."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 < number <= 100:
        raise ValidationError({"power_difference": "Enter a difference to detect between 0 and 100 points"})
    return number


@transaction.atomic
def run_create(*, actor: Any, exercise: Exercise, models: Sequence[ModelVersion], tasks: Sequence[TaskVersion],
               options: dict[str, Any], request: HttpRequest | None = None, submit: bool = False,
               power_difference: float | None = None) -> Run:
    require(actor, "create", Run(exercise=exercise), NOT_IN_EXERCISE)
    power_difference = power_difference_check(power_difference)
    options = _clean_options(exercise=exercise, models=models, tasks=tasks, options=dict(options), actor=actor)
    name = options.pop("name", None) or f"Run of {len(models)} model(s) × {len(tasks)} evaluation(s)"
    run = Run.objects.create(exercise=exercise, created_by=actor, owner_id=actor.organisation_id, name=name,
                             **{k: v for k, v in options.items() if v is not None})
    run.model_versions.set(models)
    run.task_versions.set(tasks)
    _expand_items(run)
    _power_plan_store(actor=actor, run=run, models=models, tasks=tasks, difference=power_difference)
    audit_record(actor=actor, action="run.create", obj=run, after=_snapshot(run), request=request,
                 exercise_id=exercise.pk)
    if submit:
        run_submit(actor=actor, run=run, request=request)
        run.refresh_from_db()
    return run


@transaction.atomic
def run_update(*, actor: Any, run: Run, models: Sequence[ModelVersion] | None = None,
               tasks: Sequence[TaskVersion] | None = None, options: dict[str, Any] | None = None,
               request: HttpRequest | None = None, power_difference: float | None = None) -> Run:
    """Edit a draft or submitted run: the revision goes up, approvals are voided and the run is a draft again.
    The power plan is worked out again (with the difference given, else the one planned before)."""
    require(actor, "edit", run)
    power_difference = power_difference_check(power_difference)
    run = Run.objects.select_for_update().get(pk=run.pk)
    if power_difference is None:
        power_difference = (run.power_plan or {}).get("difference")
    before = _snapshot(run)
    new_models = list(models) if models is not None else list(run.model_versions.all())
    new_tasks = list(tasks) if tasks is not None else list(run.task_versions.all())
    current = {name: getattr(run, name) for name in OPTION_FIELDS}
    merged = {**current, **(options or {})}
    _clean_options(exercise=run.exercise, models=new_models, tasks=new_tasks, options=merged, actor=actor)
    now = timezone.now()
    _transition(Run, run.pk, EDITABLE_STATES, RunState.DRAFT, revision=run.revision + 1, submitted_at=None,
                updated_at=now, **{k: v for k, v in merged.items() if k != "sample_ids" or v is not None})
    RunApproval.objects.filter(run=run, voided_at__isnull=True).update(voided_at=now)
    notifications_settle(run=run)  # a draft again: it is submitted anew, with fresh notices
    run.refresh_from_db()
    run.model_versions.set(new_models)
    run.task_versions.set(new_tasks)
    _expand_items(run)
    _power_plan_store(actor=actor, run=run, models=new_models, tasks=new_tasks, difference=power_difference)
    audit_record(actor=actor, action="run.update", obj=run, before=before, after=_snapshot(run), request=request,
                 exercise_id=run.exercise_id)
    return run


@transaction.atomic
def run_submit(*, actor: Any, run: Run, request: HttpRequest | None = None) -> Run:
    require(actor, "submit", run)
    if not run.items.exists():
        raise ValidationError("The run has no models × evaluations to run.")
    _transition(Run, run.pk, [RunState.DRAFT], RunState.SUBMITTED, submitted_at=timezone.now())
    run.refresh_from_db()
    audit_record(actor=actor, action="run.submit", obj=run, before={"state": RunState.DRAFT},
                 after={"state": run.state, "revision": run.revision}, request=request, exercise_id=run.exercise_id)
    approvers = signoff_approvers(exercise=run.exercise, exclude=actor)
    notify(users=approvers, run=run, kind=Notification.Kind.APPROVAL_NEEDED,
           text=f"{run.name} by {actor.email} waits for your institute's approval.")
    return run


@transaction.atomic
def run_approve(*, actor: Any, run: Run, revision: int | None = None, reason: str = "",
                request: HttpRequest | None = None) -> RunApproval:
    """Record the approver's institute's approval of the run's current revision. The run row is locked so two
    approvers racing serialise: exactly one of them moves the run on once every institute has approved."""
    require(actor, "approve", run, "You may not approve this run (approvers only, never your own run).")
    reason = text_check(reason, field="reason", label="The reason")
    if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int)):
        raise ValidationError({"revision": ["Give the revision you read as a whole number."]})
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.state != RunState.SUBMITTED:
        raise InvalidTransition(f"The run is {run.get_state_display().lower()}; only a submitted run is approved.")
    if revision is not None and revision != run.revision:
        raise InvalidTransition("The run changed since you read it; read it again before approving.")
    approved_by = RunApproval.objects.filter(
        run=run, revision=run.revision, decision=RunApproval.Decision.APPROVED, voided_at__isnull=True,
    ).values_list("institute_id", flat=True)
    try:
        signoff = signoff_decide(exercise=run.exercise, approved_institutes=approved_by, actor=actor,
                                 author_id=run.created_by_id, what="this revision of the run")
    except AlreadySignedOff as exc:
        raise InvalidTransition(exc.message) from None
    approval = RunApproval.objects.create(run=run, revision=run.revision, approver=actor,
                                          institute_id=signoff.institute_id,
                                          decision=RunApproval.Decision.APPROVED, reason=reason)
    audit_record(actor=actor, action="run.approve", obj=run, before={"state": run.state},
                 after={"state": run.state, "revision": run.revision, "institute": signoff.institute_id},
                 request=request, exercise_id=run.exercise_id)
    notifications_settle(run=run, organisation_id=signoff.institute_id)
    if signoff.complete:
        now = timezone.now()
        _transition(Run, run.pk, [RunState.SUBMITTED], RunState.APPROVED, approved_at=now)
        run.refresh_from_db()
        audit_record(actor=actor, action="run.approved", obj=run, before={"state": RunState.SUBMITTED},
                     after={"state": RunState.APPROVED, "revision": run.revision}, request=request,
                     exercise_id=run.exercise_id)
        notifications_settle(run=run)
        notify(users=[run.created_by], run=run, kind=Notification.Kind.APPROVED,
               text=f"{run.name} was approved by every institute taking part.")
        _schedule(run=run)
    return approval


def _schedule(*, run: Run) -> None:
    if run.schedule == Run.Schedule.NOW:
        run_start(run=run)
    elif run.schedule == Run.Schedule.AT:
        run_id = run.pk
        eta = run.run_at or timezone.now()
        # The ETA message is a shortcut; the reconciler also starts approved runs whose time has come.
        enqueue_on_commit(START_TASK, run_id, eta=eta)
    else:
        _periodic_task_create(run=run)


def _periodic_task_create(*, run: Run) -> None:
    minute, hour, day_of_month, month_of_year, day_of_week = run.cron.split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
        day_of_week=day_of_week, timezone=settings.TIME_ZONE,
    )
    periodic = PeriodicTask.objects.create(
        name=f"run-{run.pk}-rev-{run.revision}", task=RECURRING_FIRE_TASK, crontab=crontab,
        args=json.dumps([run.pk]), expires=run.approval_valid_until, queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    )
    Run.objects.filter(pk=run.pk).update(periodic_task=periodic)


def _fired_already(run: Run) -> bool:
    """Whether the schedule slot now due already has its execution: the next slot after the newest execution
    has not come yet. Two beat schedulers (or a duplicated message) fire the same slot twice; the parent's row
    lock (run_recurring_fire) serialises them, and the second finds the first's execution."""
    last = run.executions.order_by("-created_at").values_list("created_at", flat=True).first()
    periodic = PeriodicTask.objects.filter(pk=run.periodic_task_id).first() if run.periodic_task_id else None
    if last is None or periodic is None:
        return False
    return bool(periodic.schedule.remaining_estimate(last) > timedelta(0))


@transaction.atomic
def run_recurring_fire(*, run_id: int) -> Run | None:
    """One firing of an approved recurring run: a fresh execution run (already approved) that starts now,
    while the approval holds. Past ``approval_valid_until`` the schedule is switched off instead."""
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.state != RunState.APPROVED or run.schedule != Run.Schedule.RECURRING:
        return None
    if run.approval_valid_until is None or run.approval_valid_until <= timezone.now():
        if run.periodic_task_id:
            PeriodicTask.objects.filter(pk=run.periodic_task_id).update(enabled=False)
        return None
    if _fired_already(run):
        logger.warning("run %s: a second firing of the same schedule slot (two beat schedulers?) is ignored", run.pk)
        return None
    number = run.executions.count() + 1
    execution = Run.objects.create(
        exercise=run.exercise, created_by=run.created_by, owner=run.owner, name=f"{run.name} #{number}",
        parent=run, state=RunState.APPROVED, revision=run.revision, approved_at=run.approved_at,
        submitted_at=run.submitted_at, power_plan=run.power_plan,
        **{name: getattr(run, name) for name in OPTION_FIELDS if name not in {"name", "schedule", "cron", "run_at"}},
    )
    execution.model_versions.set(run.model_versions.all())
    execution.task_versions.set(run.task_versions.all())
    _expand_items(execution)
    audit_record(actor=None, actor_email="scheduler", action="run.execution_create", obj=execution,
                 after={"parent": run.pk, "revision": run.revision}, exercise_id=run.exercise_id)
    run_start(run=execution)
    return execution


@transaction.atomic
def run_start(*, run: Run) -> Run:
    """approved -> queued: its items join the queue; the dispatcher sends them to workers fairly."""
    now = timezone.now()
    _transition(Run, run.pk, [RunState.APPROVED], RunState.QUEUED)
    RunItem.objects.filter(run=run, state=ItemState.PENDING).update(state=ItemState.QUEUED, queued_at=now)
    audit_record(actor=None, actor_email="scheduler", action="run.start", obj=run,
                 before={"state": RunState.APPROVED}, after={"state": RunState.QUEUED}, exercise_id=run.exercise_id)
    dispatch.dispatch_on_commit()
    run.refresh_from_db()
    return run


@transaction.atomic
def run_reject(*, actor: Any, run: Run, reason: str, request: HttpRequest | None = None) -> Run:
    require(actor, "reject", run, "You may not reject this run (approvers only, never your own run).")
    reason = text_check(reason, field="reason", label="The reason").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the run is rejected."})
    run = Run.objects.select_for_update().get(pk=run.pk)
    _transition(Run, run.pk, [RunState.SUBMITTED], RunState.REJECTED, rejection_reason=reason)
    RunApproval.objects.create(run=run, revision=run.revision, approver=actor, institute_id=actor.organisation_id,
                               decision=RunApproval.Decision.REJECTED, reason=reason)
    audit_record(actor=actor, action="run.reject", obj=run, before={"state": RunState.SUBMITTED},
                 after={"state": RunState.REJECTED, "reason": reason}, request=request, exercise_id=run.exercise_id)
    notifications_settle(run=run)
    notify(users=[run.created_by], run=run, kind=Notification.Kind.REJECTED,
           text=f"{run.name} was rejected by {actor.email}: {reason}")
    run.refresh_from_db()
    return run


@transaction.atomic
def run_cancel(*, actor: Any, run: Run, request: HttpRequest | None = None) -> Run:
    """Queued and pending items are cancelled at once; running items get ``cancel_requested_at`` and their
    worker stops them (the engine polls it) within seconds, keeping what finished."""
    require(actor, "cancel", run)
    run = Run.objects.select_for_update().get(pk=run.pk)
    before = run.state
    if before not in CANCELLABLE_STATES:
        raise InvalidTransition(f"The run is {run.get_state_display().lower()}; it can no longer be cancelled.")
    now = timezone.now()
    RunItem.objects.filter(run=run, state__in=[ItemState.PENDING, ItemState.QUEUED]).update(
        state=ItemState.CANCELLED, cancel_requested_at=now, finished_at=now)
    RunItem.objects.filter(run=run, state=ItemState.RUNNING).update(cancel_requested_at=now)
    if run.periodic_task_id:
        PeriodicTask.objects.filter(pk=run.periodic_task_id).update(enabled=False)
    if not RunItem.objects.filter(run=run, state=ItemState.RUNNING).exists():
        _transition(Run, run.pk, [before], RunState.CANCELLED, finished_at=now)
    notifications_settle(run=run)
    audit_record(actor=actor, action="run.cancel", obj=run, before={"state": before},
                 after={"state": RunState.CANCELLED, "cancel_requested_at": now}, request=request,
                 exercise_id=run.exercise_id)
    run.refresh_from_db()
    return run


@transaction.atomic
def run_item_retry(*, actor: Any, item: RunItem, request: HttpRequest | None = None) -> RunItem:
    """A failed or cancelled item runs again with only its unfinished samples (the engine retries its log)."""
    require(actor, "retry", item)
    run = Run.objects.select_for_update().get(pk=item.run_id)
    if run.state not in FINISHED_STATES:
        raise InvalidTransition("Retry an item once its run has finished.")
    item.refresh_from_db()
    _transition(RunItem, item.pk, [ItemState.FAILED, ItemState.CANCELLED], ItemState.QUEUED,
                queued_at=timezone.now(), enqueued_at=None, cancel_requested_at=None, lease_owner="",
                lease_expires_at=None, previous_log_path=item.log_path, error="", finished_at=None)
    _transition(Run, run.pk, FINISHED_STATES, RunState.QUEUED, finished_at=None)
    audit_record(actor=actor, action="run.item_retry", obj=run, before={"state": run.state, "item": item.pk},
                 after={"state": RunState.QUEUED, "item": item.pk}, request=request, exercise_id=run.exercise_id)
    dispatch.dispatch_on_commit()
    item.refresh_from_db()
    return item


def run_retry_failed_items(*, actor: Any, run: Run, request: HttpRequest | None = None) -> list[RunItem]:
    with transaction.atomic():
        items = list(run.items.filter(state__in=[ItemState.FAILED, ItemState.CANCELLED]))
        if not items:
            raise InvalidTransition("No failed or cancelled item to retry.")
        return [run_item_retry(actor=actor, item=item, request=request) for item in items]


def run_items_reconcile(*, queued_grace: timedelta | None = None) -> dict[str, int]:
    """Idempotent repair, run periodically: re-send queued items whose message vanished (their marker is gone from
    Redis, or they were sent longer than ``queued_grace`` ago and never claimed), re-queue running items whose lease expired (a killed worker),
    start approved "at" runs whose time has come, then dispatch."""
    now = timezone.now()
    grace = queued_grace if queued_grace is not None else timedelta(seconds=settings.RUNS_QUEUED_GRACE_SECONDS)
    sent = RunItem.objects.filter(state=ItemState.QUEUED, enqueued_at__isnull=False)
    # Sent a while ago but its marker is gone from Redis (data lost), or never claimed for very long: send again.
    settled = list(sent.filter(enqueued_at__lt=now - timedelta(seconds=5)).values_list("pk", flat=True))
    lost = dispatch.lost_messages(settled)
    resent = sent.filter(Q(pk__in=lost) | Q(enqueued_at__lt=now - grace)).update(enqueued_at=None)
    expired = RunItem.objects.filter(state=ItemState.RUNNING, lease_expires_at__lt=now)
    requeued = 0
    for item_id in list(expired.values_list("pk", flat=True)):
        requeued += RunItem.objects.filter(pk=item_id, state=ItemState.RUNNING, lease_expires_at__lt=now).update(
            state=ItemState.QUEUED, lease_owner="", lease_expires_at=None, enqueued_at=None, queued_at=now,
            error="The worker running this item stopped; it was queued again.")
    started = 0
    for run in Run.objects.filter(state=RunState.APPROVED, schedule=Run.Schedule.AT, run_at__lte=now):
        try:
            run_start(run=run)
            started += 1
        except InvalidTransition:
            pass
    # Items cancelled while their worker was gone.
    for run_id in set(RunItem.objects.filter(state=ItemState.QUEUED, cancel_requested_at__isnull=False)
                      .values_list("run_id", flat=True)):
        RunItem.objects.filter(run_id=run_id, state=ItemState.QUEUED, cancel_requested_at__isnull=False).update(
            state=ItemState.CANCELLED, finished_at=now)
        run_refresh_state(run_id=run_id)
    dispatched = dispatch.run_items_dispatch()
    # Connection tests whose worker died (or whose message was lost) do not stay running or pending for ever.
    reaped = registry.connection_tests_reap(pending_grace=grace)
    return {"resent": resent, "requeued": requeued, "started": started, "dispatched": len(dispatched),
            "connection_tests_failed": reaped}


@transaction.atomic
def run_refresh_state(*, run_id: int) -> str:
    """Set the run's state from its items: running while any runs; once all ended, the aggregate outcome."""
    run = Run.objects.select_for_update().get(pk=run_id)
    states = list(run.items.values_list("state", flat=True))
    if run.state not in (RunState.QUEUED, RunState.RUNNING, RunState.CANCELLED, RunState.APPROVED):
        return run.state
    if any(s in (ItemState.QUEUED, ItemState.RUNNING, ItemState.PENDING) for s in states):
        if any(s == ItemState.RUNNING for s in states) and run.state == RunState.QUEUED:
            _transition(Run, run.pk, [RunState.QUEUED], RunState.RUNNING, started_at=run.started_at or timezone.now())
            return RunState.RUNNING
        return run.state
    if not states:
        outcome = RunState.FAILED
    elif all(s == ItemState.SUCCEEDED for s in states):
        outcome = RunState.SUCCEEDED
    elif run.state == RunState.CANCELLED or any(s == ItemState.CANCELLED for s in states):
        outcome = RunState.CANCELLED
    elif any(s == ItemState.SUCCEEDED for s in states):
        outcome = RunState.PARTIALLY_SUCCEEDED
    else:
        outcome = RunState.FAILED
    if run.state == outcome:
        return outcome
    before = run.state
    _transition(Run, run.pk, [before], outcome, finished_at=timezone.now())
    audit_record(actor=None, actor_email="worker", action="run.finish", obj=run, before={"state": before},
                 after={"state": outcome}, exercise_id=run.exercise_id)
    kind = Notification.Kind.FAILED if outcome == RunState.FAILED else Notification.Kind.FINISHED
    label = dict(RunState.choices)[outcome].lower()
    notify(users=[run.created_by], run=run, kind=kind, text=f"{run.name} has finished: {label}.")
    return outcome
