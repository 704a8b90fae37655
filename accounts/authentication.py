"""API authentication: bearer tokens and MFA-verified browser sessions (with CSRF). No HTTP Basic."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.mfa import session_passed_mfa


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer jtp_<prefix>_<secret>``. A bad, revoked or expired token is a 401."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        from accounts.services import api_token_authenticate

        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <token>'.")
        try:
            plain = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        token = api_token_authenticate(plain=plain)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class MFASessionAuthentication(SessionAuthentication):
    """Django session auth (CSRF enforced) that only accepts sessions which passed MFA."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        if not session_passed_mfa(request._request):
            raise exceptions.PermissionDenied("Complete multi-factor authentication in the browser first.")
        return result
