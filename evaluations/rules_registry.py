"""Access rules for the model registry and the evaluation catalogue (ROLES.md):

- view: admins see all; institute members see objects of the exercises their institute takes part in (and the
  objects their own institute owns); partner viewers see none of them.
- create / edit / delete (and set_credential, test_connection): only staff and approvers of the owning institute;
  admins cannot.
- versions follow their parent; credentials are never readable by anyone.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts.access import CREATE, DELETE, EDIT, VIEW, Rule, is_admin, is_institute_member, register
from evaluations.models import (
    ConnectionTest,
    EvalTask,
    ModelCredential,
    ModelVersion,
    RegisteredModel,
    TaskVersion,
)

OWNER_ACTIONS = {CREATE, EDIT, DELETE, "set_credential", "test_connection"}


def _may_write(user: Any) -> bool:
    return is_institute_member(user) and not is_admin(user) and user.role in ("staff", "approver")


class _OwnedInExercises(Rule):
    """RegisteredModel and EvalTask: owner + exercises."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if is_admin(user):
            return queryset
        if not is_institute_member(user):
            return queryset.none()
        org = user.organisation_id
        ids = queryset.model.objects.filter(Q(exercises__institutes=org) | Q(owner=org)).values("pk")
        return queryset.filter(pk__in=ids)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):
            return action == CREATE and _may_write(user)
        if action == VIEW:
            return self.visible(user, type(obj).objects.filter(pk=obj.pk)).exists()
        if action in OWNER_ACTIONS - {CREATE}:
            return _may_write(user) and obj.owner_id == user.organisation_id and obj.archived_at is None
        return False


@register(RegisteredModel)
class RegisteredModelRule(_OwnedInExercises):
    pass


@register(EvalTask)
class EvalTaskRule(_OwnedInExercises):
    pass


class _ChildRule(Rule):
    parent_field = ""
    parent_model: Any = None

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        from accounts.access import visible_to

        parents = visible_to(user, self.parent_model.objects.all()).values("pk")
        return queryset.filter(**{f"{self.parent_field}__in": parents})

    def can(self, user: Any, action: str, obj: Any) -> bool:
        from accounts.access import can

        if isinstance(obj, type):
            return False
        parent = getattr(obj, self.parent_field)
        if action == VIEW:
            return can(user, VIEW, parent)
        return False  # versions and connection tests are never edited: a change makes a new row


@register(ModelVersion)
class ModelVersionRule(_ChildRule):
    parent_field = "registered_model"
    parent_model = RegisteredModel


@register(TaskVersion)
class TaskVersionRule(_ChildRule):
    parent_field = "eval_task"
    parent_model = EvalTask


@register(ConnectionTest)
class ConnectionTestRule(_ChildRule):
    parent_field = "registered_model"
    parent_model = RegisteredModel


@register(ModelCredential)
class ModelCredentialRule(Rule):
    """Never readable by anyone, admins included (written only through services.registry)."""
