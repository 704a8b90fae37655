"""MFA for everyone: a signed-in browser session that has not passed MFA reaches only MFA set-up and sign-out."""

from __future__ import annotations

from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode

from accounts.mfa import session_passed_mfa

# URL names a signed-in user without MFA may reach (set-up, sign-out); plus the public prefixes below.
MFA_SETUP_URL_NAMES = (
    "mfa_index",
    "mfa_activate_totp",
    "mfa_add_webauthn",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
    "account_logout",
    "account_reauthenticate",
)
PUBLIC_PREFIXES = ("/static/", "/healthz", "/readyz", "/assets/", "/favicon")


class MFARequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._allowed: set[str] | None = None

    def allowed_paths(self) -> set[str]:
        if self._allowed is None:
            self._allowed = {reverse(name) for name in MFA_SETUP_URL_NAMES}
        return self._allowed

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or session_passed_mfa(request):
            return self.get_response(request)
        path = request.path
        if path.startswith(PUBLIC_PREFIXES) or path.startswith(settings.STATIC_URL):
            return self.get_response(request)
        if is_mfa_enabled(user):
            # Has a second factor but this session never passed it (should not happen through the login
            # flow): end the session and start again.
            logout(request)
            return self._refuse(request, reverse("account_login"), "Sign in again and complete the MFA challenge.")
        if path in self.allowed_paths():
            return self.get_response(request)
        return self._refuse(
            request, reverse("mfa_activate_totp"), "Set up multi-factor authentication before using the portal."
        )

    @staticmethod
    def _refuse(request: HttpRequest, url: str, message: str) -> HttpResponse:
        if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"detail": message}, status=403)
        if request.method == "GET":
            url = f"{url}?{urlencode({'next': request.get_full_path()})}"
        return HttpResponseRedirect(url)
