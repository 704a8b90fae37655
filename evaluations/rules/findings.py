"""Access rules for findings (ROLES.md, "finding", and "samples, transcripts, logs" for partners).

- Finding and everything hanging off it (evidence items, run-item links, sign-offs, comments): visible to admins
  and to members of the institutes taking part in the finding's exercise. Partner viewers never see a Finding row:
  what they see is a Release (its snapshot), below.
- create: staff and approvers of a taking-part institute (not admins), in an exercise that is not closed. The
  services ask ``can(user, "create", Finding(exercise=...))`` so the exercise is checked here, not in the service.
- edit / submit: members of the author's institute (staff or approver), exercise open.
- request_changes: a member of a taking-part institute other than the author.
- sign_off: an approver of a taking-part institute, never the author (``rules.common.may_sign_off``, the fact run
  approval asks too; evaluations/services/signoff.py counts one sign-off per institute).
- release: an approver of a taking-part institute. withdraw: the same, and allowed in a closed exercise too,
  because it only hides.

These rules say who may take an action on a finding at all (403 otherwise). Whether the finding's state allows it
now is the service's check under the row lock (409 otherwise: draft -> submit, in review -> sign off, ...; see
evaluations/services/findings.py); ``evaluations.selectors.findings.finding_actions`` combines both for pages.
- comment: members of taking-part institutes, exercise open. reproduce: as creating a run in the exercise.
- Release: institute members who see the finding see all of its releases; a partner viewer sees only releases that
  name their organisation, are not withdrawn, in an exercise their organisation is (still) invited to.
- EvidenceFlag: visible with the sample; created by staff/approvers of taking-part institutes on a sample they see,
  exercise open; deleted by their author only, exercise open.
- RiskArea: read by every signed-in user; created and edited by admins.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts import access
from accounts.access import Rule, register
from evaluations.models import (
    EvidenceFlag,
    EvidenceItem,
    Exercise,
    Finding,
    FindingComment,
    FindingRunItem,
    FindingSignOff,
    Release,
    RiskArea,
)
from evaluations.rules.common import (
    exercise_ids_taking_part,
    exercise_is_open,
    may_sign_off,
    may_write_owned,
    user_takes_part,
)


def exercise_is_closed(exercise: Exercise) -> bool:
    return not exercise_is_open(exercise)


def takes_part(user: Any, exercise_id: int | None) -> bool:
    return exercise_id is not None and user_takes_part(user, exercise_id)


def _writer(user: Any) -> bool:
    """Staff and approvers of an institute; admins read but never write findings."""
    return may_write_owned(user)


def _exercise_ids(user: Any) -> QuerySet[Any]:
    return exercise_ids_taking_part(user)


@register(Finding)
class FindingRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_admin(user):
            return queryset
        if access.is_institute_member(user):
            return queryset.filter(exercise_id__in=_exercise_ids(user))
        return queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):
            return False  # ask with Finding(exercise=...) so the exercise is checked
        finding: Finding = obj
        exercise = finding.exercise
        if action == access.VIEW:
            return finding.pk is not None and (
                access.is_admin(user) or (access.is_institute_member(user) and takes_part(user, exercise.pk)))
        if not _writer(user) or not takes_part(user, exercise.pk):
            return False
        closed = exercise_is_closed(exercise)
        if action == access.CREATE:
            return finding.pk is None and not closed
        if finding.pk is None:
            return False
        if action == "withdraw":
            return access.is_approver(user)
        if closed:
            return False
        if action in (access.EDIT, "submit"):
            return finding.owner_id == user.organisation_id
        if action == "request_changes":
            return finding.author_id != user.pk
        if action == "sign_off":
            # the shared fact (rules/common.py); services/signoff.py counts one per institute under the row lock
            return may_sign_off(user, exercise, author_id=finding.author_id)
        if action == access.RELEASE:
            return access.is_approver(user)
        return action in ("comment", "reproduce")


class _FindingChildRule(Rule):
    """Evidence items, run-item links, sign-offs and comments: seen with their finding, written only through the
    finding's services."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(finding__in=access.visible_to(user, Finding.objects.all()).values("pk"))

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type) or action != access.VIEW:
            return False
        return access.can(user, access.VIEW, obj.finding)


@register(EvidenceItem)
class EvidenceItemRule(_FindingChildRule):
    pass


@register(FindingRunItem)
class FindingRunItemRule(_FindingChildRule):
    pass


@register(FindingSignOff)
class FindingSignOffRule(_FindingChildRule):
    pass


@register(FindingComment)
class FindingCommentRule(_FindingChildRule):
    pass


def partner_release_filter(user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The releases a partner viewer may read: naming their organisation, not withdrawn, in an exercise their
    organisation is invited to."""
    invited = Exercise.objects.filter(partners=user.organisation_id).values("pk")
    return queryset.filter(partners=user.organisation_id, withdrawn_at__isnull=True,
                           finding__exercise_id__in=invited)


@register(Release)
class ReleaseRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_institute_member(user):
            return queryset.filter(finding__in=access.visible_to(user, Finding.objects.all()).values("pk"))
        if access.is_partner_viewer(user):
            return partner_release_filter(user, queryset)
        return queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type) or action != access.VIEW:
            return False
        return self.visible(user, Release.objects.filter(pk=obj.pk)).exists()


@register(EvidenceFlag)
class EvidenceFlagRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_admin(user):
            return queryset
        if access.is_institute_member(user):
            return queryset.filter(sample__item__run__exercise_id__in=_exercise_ids(user))
        return queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):
            return False  # ask with EvidenceFlag(sample=...) so the sample's exercise is checked
        flag: EvidenceFlag = obj
        exercise = flag.sample.item.run.exercise
        if action == access.VIEW:
            return flag.pk is not None and (access.is_admin(user) or takes_part(user, exercise.pk))
        if not _writer(user) or not takes_part(user, exercise.pk) or exercise_is_closed(exercise):
            return False
        if action == access.CREATE:
            return flag.pk is None
        if action == access.DELETE:
            return flag.pk is not None and flag.created_by_id == user.pk
        return False


@register(RiskArea)
class RiskAreaRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_institute_member(user) or access.is_partner_viewer(user):
            return queryset
        return queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if action == access.VIEW:
            return access.is_institute_member(user) or access.is_partner_viewer(user)
        return action in (access.CREATE, access.EDIT) and access.is_admin(user)
