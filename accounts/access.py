"""The one place that decides who may see or do what (ROLES.md is its specification).

    visible_to(user, queryset)      -> the part of the queryset the user may see
    can(user, action, obj)          -> bool
    require(user, action, obj)      -> raises PermissionDenied (403) when not allowed
    get_visible_or_404(user, qs, **lookup)

Every app registers a ``Rule`` for each protected model with ``@register(Model)``; the UI, the API,
exports and search all call these functions and never re-implement a rule. A model with no rule is
invisible to everyone (deny by default). An object the user may not see is a 404, never a 403.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404

M = TypeVar("M", bound=models.Model)

# Actions (ROLES.md letters): V view, C create, E edit, D delete/archive, A approve/sign off,
# R release, X cancel/retry; MANAGE (asked of a model class): use the admin pages of that model.
# Rules may define finer ones (e.g. "submit", "reject", "withdraw").
VIEW, CREATE, EDIT, DELETE, APPROVE, RELEASE, CANCEL, RETRY, MANAGE = (
    "view", "create", "edit", "delete", "approve", "release", "cancel", "retry", "manage",
)


class Rule:
    """Base rule: deny everything. Subclasses override ``visible`` and ``can``."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        return False


_RULES: dict[type[models.Model], Rule] = {}


def register(model: type[models.Model]):  # type: ignore[no-untyped-def]
    def decorator(rule_class: type[Rule]) -> type[Rule]:
        _RULES[model] = rule_class()
        return rule_class

    return decorator


def rule_for(model: type[models.Model]) -> Rule:
    for klass in model.__mro__:
        if klass in _RULES:
            return _RULES[klass]  # type: ignore[index]
    return Rule()


def is_active_user(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def visible_to(user: Any, queryset: QuerySet[M]) -> QuerySet[M]:
    if not is_active_user(user):
        return queryset.none()
    return rule_for(queryset.model).visible(user, queryset)


def can(user: Any, action: str, obj: Any) -> bool:
    """``obj`` is an instance, or a model class for actions without an object yet (``create``)."""
    if not is_active_user(user):
        return False
    model = obj if isinstance(obj, type) else type(obj)
    return rule_for(model).can(user, action, obj)


def require(user: Any, action: str, obj: Any, message: str | None = None) -> None:
    if not can(user, action, obj):
        raise PermissionDenied(message or f"You may not {action} this.")


def get_visible_or_404(user: Any, queryset: QuerySet[M], **lookup: Any) -> M:
    try:
        return visible_to(user, queryset).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


# --- Facts about a user, shared by the rules ---------------------------------------------------------

def is_institute_member(user: Any) -> bool:
    org = getattr(user, "organisation", None)
    return bool(org is not None and org.kind == "institute")


def is_partner_viewer(user: Any) -> bool:
    org = getattr(user, "organisation", None)
    return bool(org is not None and org.kind == "partner" and user.role == "partner_viewer")


def is_approver(user: Any) -> bool:
    return is_institute_member(user) and user.role == "approver"


def is_admin(user: Any) -> bool:
    return is_institute_member(user) and bool(user.is_portal_admin)
