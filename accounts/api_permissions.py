"""API permissions. Object-level decisions are the access layer's (accounts.access); these only gate
authentication and the token's scope."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.models import ApiToken


class IsMFAAuthenticated(BasePermission):
    """Authenticated by an MFA-verified session or a bearer token; a read-scoped token may only read.
    A write made with a token is audited."""

    message = "Authentication required."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        token = request.auth
        if isinstance(token, ApiToken) and request.method not in SAFE_METHODS:
            if token.scope != ApiToken.Scope.WRITE:
                self.message = "This token is read-only: create a write-scoped token to change data."
                return False
            from accounts.services import api_token_write_used

            api_token_write_used(token=token, request=request)
        return True
