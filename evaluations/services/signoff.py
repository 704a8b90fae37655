"""Sign-off by the institutes taking part in an exercise: the one module that decides "one approver of each
taking-part institute, never the author". Run approval uses it (services/runs.py); findings' sign-off will.

The caller keeps its own approval rows and lock; this module answers, for the acting user and the set of
institutes that already signed off, whether the user may add their institute's sign-off and whether that completes
it. Who may sign off at all is the access layer's fact (``evaluations.rules.common.may_sign_off``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from accounts.models import User
from evaluations.models import Exercise
from evaluations.rules.common import may_sign_off
from portal.errors import Conflict


class AlreadySignedOff(Conflict):
    """The acting user's institute has already signed off (409)."""


@dataclass(frozen=True)
class Signoff:
    institute_id: int  # the institute the acting user signs off for
    complete: bool  # True when, with it, every taking-part institute has signed off


def signoff_institutes(*, exercise: Exercise) -> set[int]:
    """The institutes whose sign-off is needed: every institute taking part in the exercise."""
    return set(exercise.institutes.values_list("pk", flat=True))


def signoff_decide(*, exercise: Exercise, approved_institutes: Iterable[int], actor: Any,
                   author_id: int | None, what: str = "this") -> Signoff:
    """Decide the acting user's sign-off. Raises PermissionDenied when they may not sign off (not an approver of
    a taking-part institute of the open exercise, or the author) and AlreadySignedOff when their institute has."""
    if not may_sign_off(actor, exercise, author_id=author_id):
        raise PermissionDenied(f"You may not approve {what} (approvers of a taking-part institute only, never "
                               "the author, never in a closed exercise).")
    approved = set(approved_institutes)
    institute = int(actor.organisation_id)
    if institute in approved:
        raise AlreadySignedOff(f"Your institute has already approved {what}.")
    return Signoff(institute_id=institute, complete=signoff_institutes(exercise=exercise) <= approved | {institute})


def signoff_approvers(*, exercise: Exercise, exclude: Any = None) -> QuerySet[User]:
    """The active approvers asked to sign off: those of every taking-part institute (never ``exclude``)."""
    approvers = User.objects.filter(organisation__in=exercise.institutes.values("pk"), role=User.Role.APPROVER,
                                    is_active=True)
    return approvers.exclude(pk=exclude.pk) if exclude is not None else approvers
