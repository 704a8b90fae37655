"""Access rules for organisations, users, invitations and API tokens (ROLES.md). Imported from
AccountsConfig.ready(). The audit trail's rule is evaluations.rules.audit (it depends on exercises)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts import access
from accounts.access import Rule, register
from accounts.models import ApiToken, Invitation, Organisation, User


@register(Organisation)
class OrganisationRule(Rule):
    """Admins: V C E all. Institute members: V all (approvers name partners when releasing). Partner viewers:
    V their own organisation only."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_admin(user) or access.is_institute_member(user):
            return queryset
        if access.is_partner_viewer(user):
            return queryset.filter(pk=user.organisation_id)
        return queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if action in (access.CREATE, access.MANAGE):
            return access.is_admin(user)
        if isinstance(obj, type):
            return False
        if action == access.VIEW:
            return self.visible(user, Organisation.objects.filter(pk=obj.pk)).exists()
        if action == access.EDIT:
            return access.is_admin(user)
        return False


@register(User)
class UserRule(Rule):
    """Admins: V all, E (role, admin flag, active), the users admin page. Everyone else: V themselves only."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_admin(user):
            return queryset
        return queryset.filter(pk=user.pk)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):
            return action == access.MANAGE and access.is_admin(user)  # accounts come from invitations
        if action == access.VIEW:
            return access.is_admin(user) or obj.pk == user.pk
        if action == access.EDIT:
            return access.is_admin(user)
        return False


@register(Invitation)
class InvitationRule(Rule):
    """Admins only: V, C, revoke (``delete``), the invitations admin page."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset if access.is_admin(user) else queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if not access.is_admin(user):
            return False
        if action in (access.CREATE, access.MANAGE):
            return True
        if isinstance(obj, type):
            return False
        return action in (access.VIEW, access.DELETE)


def token_scopes_allowed(user: Any) -> list[str]:
    """A token's scope never exceeds the role: partner viewers read only."""
    if access.is_institute_member(user):
        return [ApiToken.Scope.READ, ApiToken.Scope.WRITE]
    if access.is_partner_viewer(user):
        return [ApiToken.Scope.READ]
    return []


@register(ApiToken)
class ApiTokenRule(Rule):
    """Everyone: V, C, revoke (``delete``) their own tokens only; admins included."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(user=user.pk)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if action == access.CREATE:
            return bool(token_scopes_allowed(user))
        if isinstance(obj, type):
            return False
        return action in (access.VIEW, access.DELETE) and obj.user_id == user.pk
