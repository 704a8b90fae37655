"""Access rules for runs, their items and sample results (ROLES.md, "run" and "samples, transcripts, logs").

Creating a run is asked with an unsaved run of its exercise (``can(user, "create", Run(exercise=exercise))``);
the class (``can(user, "create", Run)``) answers whether the user plans runs at all. Every action but reading
needs the user's institute to take part in the run's exercise and the exercise to be open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from accounts.access import Rule, is_admin, is_approver, is_institute_member, register
from accounts.access import can as access_can
from evaluations.models import Notification, Run, RunItem, SampleResult
from evaluations.models.runs import ItemState, RunState
from evaluations.rules.common import institute_visible, may_sign_off, user_acts_in, user_takes_part


def _run_visible(user: Any, run: Run) -> bool:
    if not is_institute_member(user):
        return False
    return is_admin(user) or user_takes_part(user, run.exercise_id)


@register(Run)
class RunRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return institute_visible(user, queryset)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if not is_institute_member(user):
            return False
        if is_admin(user):
            return action == "view" and not isinstance(obj, type)  # admins read; they never act on runs
        if isinstance(obj, type):
            return action == "create"  # staff and approvers plan runs (in the exercises they act in)
        run: Run = obj
        if action == "view":
            return run.pk is not None and _run_visible(user, run)
        if not user_acts_in(user, run.exercise):
            return False  # other institutes read (admins) or see nothing; a closed exercise is read-only
        if run.pk is None:
            return action == "create"  # a new run (planned or imported) in this exercise
        own = run.created_by_id == user.pk
        if action == "edit":  # while a draft, or submitted (an edit voids the approvals and makes it a draft)
            return own and run.origin == Run.Origin.PORTAL and run.state in (RunState.DRAFT, RunState.SUBMITTED)
        if action == "submit":
            return own and run.origin == Run.Origin.PORTAL
        if action in {"approve", "reject"}:
            return may_sign_off(user, run.exercise, author_id=run.created_by_id)
        if action in {"cancel", "retry"}:
            return own or is_approver(user)
        return False


@register(RunItem)
class RunItemRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return institute_visible(user, queryset, exercise="run__exercise")

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):
            return False
        if action == "view":
            return _run_visible(user, obj.run)
        if action in {"cancel", "retry"}:
            return RunRule().can(user, action, obj.run)
        return False


@register(SampleResult)
class SampleResultRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return institute_visible(user, queryset, exercise="item__run__exercise")

    def can(self, user: Any, action: str, obj: Any) -> bool:
        return action == "view" and not isinstance(obj, type) and _run_visible(user, obj.item.run)


@register(Notification)
class NotificationRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(user=user)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        return not isinstance(obj, type) and action in {"view", "edit"} and obj.user_id == user.pk



# --- What each state is called, and what each person may do now ---------------------------------------------
# The one place for the words of a run's and an item's state and for the actions a page offers: the run page,
# its polled progress partial, the run list, the notifications page and the API read them from here, and the
# services check their transitions against the same state sets. tests/runs/test_run_states.py holds the table
# of (state, actor) -> label and actions that this code must give, and checks the page against it.

EDITABLE_STATES = (RunState.DRAFT, RunState.SUBMITTED)
CANCELLABLE_STATES = (RunState.DRAFT, RunState.SUBMITTED, RunState.APPROVED, RunState.QUEUED, RunState.RUNNING)
FINISHED_STATES = (RunState.SUCCEEDED, RunState.PARTIALLY_SUCCEEDED, RunState.FAILED, RunState.CANCELLED)
ACTIVE_STATES = (RunState.APPROVED, RunState.QUEUED, RunState.RUNNING)

RUN_STATE_COLOURS = {
    RunState.DRAFT: "grey", RunState.SUBMITTED: "yellow", RunState.APPROVED: "blue", RunState.QUEUED: "blue",
    RunState.RUNNING: "light-blue", RunState.SUCCEEDED: "green", RunState.PARTIALLY_SUCCEEDED: "orange",
    RunState.FAILED: "red", RunState.CANCELLED: "grey", RunState.REJECTED: "red",
}


@dataclass(frozen=True)
class StateLabel:
    """A state as a person reads it: the words and the GOV.UK tag colour."""

    text: str
    colour: str = ""

    @property
    def tag_class(self) -> str:
        return f"govuk-tag govuk-tag--{self.colour}" if self.colour else "govuk-tag"


def run_state_label(*, state: str, stopping: bool = False) -> StateLabel:
    """``stopping``: a cancel was asked while items still run (the run ends once their workers stop them)."""
    if stopping and state == RunState.RUNNING:
        return StateLabel("Cancelling", "grey")
    return StateLabel(str(RunState(state).label), RUN_STATE_COLOURS.get(RunState(state), ""))


# An item that has not started says why, from its run's state (a rejected run's items never "wait for approval").
PENDING_ITEM_LABELS = {
    RunState.DRAFT: StateLabel("Not submitted", "grey"),
    RunState.SUBMITTED: StateLabel("Waiting for approval", "yellow"),
    RunState.APPROVED: StateLabel("Approved, not started", "blue"),
    RunState.REJECTED: StateLabel("Not run: rejected", "grey"),
    RunState.CANCELLED: StateLabel("Not run: cancelled", "grey"),
}
ITEM_STATE_LABELS = {
    ItemState.QUEUED: StateLabel("Queued", "blue"),
    ItemState.RUNNING: StateLabel("Running", "light-blue"),
    ItemState.SUCCEEDED: StateLabel("Succeeded", "green"),
    ItemState.FAILED: StateLabel("Failed", "red"),
    ItemState.CANCELLED: StateLabel("Cancelled", "grey"),
}


def item_state_label(*, state: str, run_state: str, sent: bool = False, stopping: bool = False) -> StateLabel:
    """``sent``: a queued item whose task message went to a worker; ``stopping``: a running item asked to stop."""
    if state == ItemState.PENDING:
        return PENDING_ITEM_LABELS.get(RunState(run_state), StateLabel("Not started", "grey"))
    if state == ItemState.QUEUED and sent:
        return StateLabel("Starting", "light-blue")
    if state == ItemState.RUNNING and stopping:
        return StateLabel("Stopping", "grey")
    return ITEM_STATE_LABELS[ItemState(state)]


@dataclass(frozen=True)
class RunAction:
    """A button on the run page: ``name`` is the action of the run-action URL (or "edit")."""

    name: str
    label: str
    style: str = ""  # "", "secondary" or "warning"

    @property
    def button_class(self) -> str:
        return f"govuk-button govuk-button--{self.style}" if self.style else "govuk-button"


RUN_ACTIONS = (
    RunAction("edit", "Edit", "secondary"),
    RunAction("submit", "Submit for approval"),
    RunAction("approve", "Approve"),
    RunAction("reject", "Reject", "warning"),
    RunAction("cancel", "Cancel run", "warning"),
    RunAction("retry", "Retry failed items", "secondary"),
)
# In which states of the run each action is offered at all; who may take it is the access rule's answer (can).
ACTION_STATES: dict[str, tuple[str, ...]] = {
    "edit": EDITABLE_STATES,
    "submit": (RunState.DRAFT,),
    "approve": (RunState.SUBMITTED,),
    "reject": (RunState.SUBMITTED,),
    "cancel": CANCELLABLE_STATES,
    "retry": FINISHED_STATES,
}


@dataclass(frozen=True)
class RunFacts:
    """What, besides the run's own row, decides the actions: read once by the page's selector."""

    approved_institutes: frozenset[int] = frozenset()  # institutes whose approval of this revision holds
    has_items: bool = True
    retryable_items: bool = False  # a failed or cancelled item
    stopping: bool = False  # cancel asked, items still running


def run_actions_available(*, user: Any, run: Run, facts: RunFacts) -> list[RunAction]:
    """The actions ``user`` can take on ``run`` now, in the order the page shows them."""
    available = []
    for action in RUN_ACTIONS:
        if run.state not in ACTION_STATES[action.name] or not access_can(user, action.name, run):
            continue
        if action.name == "submit" and not facts.has_items:
            continue
        if action.name == "approve" and user.organisation_id in facts.approved_institutes:
            continue  # their institute approved this revision: nothing more for them to approve
        if action.name == "cancel" and facts.stopping:
            continue  # already asked; the run ends once its workers stop
        if action.name == "retry" and not facts.retryable_items:
            continue
        available.append(action)
    return available


def notification_outdated(*, kind: str, run: Run | None) -> bool:
    """A notice that asked for a decision on a run that has moved on (approved, rejected, edited, cancelled)."""
    return kind == Notification.Kind.APPROVAL_NEEDED and run is not None and run.state != RunState.SUBMITTED
