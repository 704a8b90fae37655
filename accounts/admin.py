"""The Django admin: same sign-in as the portal (allauth, with MFA); portal admins with is_staff only."""

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest

from accounts.mfa import session_passed_mfa
from accounts.models import ApiToken, Invitation, Organisation, User


def _admin_has_permission(request: HttpRequest) -> bool:
    user: Any = request.user
    return bool(
        user.is_active and user.is_staff and getattr(user, "is_portal_admin", False) and session_passed_mfa(request)
    )


admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.has_permission = _admin_has_permission  # type: ignore[method-assign]
admin.site.site_header = "Joint Testing Portal administration"


class PortalReadOnlyAdmin(admin.ModelAdmin):
    """Portal admins read these in the Django admin; changes go through the portal's audited pages."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _admin_has_permission(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _admin_has_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organisation)
class OrganisationAdmin(PortalReadOnlyAdmin):
    list_display = ("name", "kind", "country_code")


@admin.register(User)
class UserAdmin(PortalReadOnlyAdmin):
    list_display = ("email", "organisation", "role", "is_portal_admin", "is_active")
    list_filter = ("role", "is_portal_admin", "organisation")
    exclude = ("password", "groups", "user_permissions")


@admin.register(Invitation)
class InvitationAdmin(PortalReadOnlyAdmin):
    list_display = ("email", "organisation", "role", "expires_at", "accepted_at", "revoked_at")
    exclude = ("token_hash",)


@admin.register(ApiToken)
class ApiTokenAdmin(PortalReadOnlyAdmin):
    list_display = ("prefix", "user", "scope", "expires_at", "revoked_at", "last_used_at")
    exclude = ("token_hash",)
