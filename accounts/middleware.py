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


class UserSessionActivityMiddleware:
    """allauth's ``UserSessionsMiddleware`` (a session's last activity, IP address and browser, for the list of
    one's sessions), at most once every ``USERSESSION_ACTIVITY_SECONDS`` per session and client: allauth writes the
    row on every request (a SELECT, an UPDATE and a COMMIT on each page, ~10 ms; docs/benchmarks.md §5). A session
    seen from another IP address or browser is written at once (allauth then sends ``session_client_changed``), so
    only the last-seen time may lag, by less than the interval (the profile page shows it to the minute)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from allauth.usersessions.internal import usersessionkit

        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is not None and user.is_authenticated and session is not None and session.session_key \
                and self._due(request, session.session_key):
            usersessionkit.track_activity(request, user=user, session=session)
        return self.get_response(request)

    @staticmethod
    def _due(request: HttpRequest, session_key: str) -> bool:
        import hashlib

        from allauth.account.adapter import get_adapter
        from django.core.cache import cache

        interval = settings.USERSESSION_ACTIVITY_SECONDS
        if interval <= 0:
            return True
        client = f"{session_key}\0{get_adapter().get_client_ip(request)}\0{request.META.get('HTTP_USER_AGENT', '')}"
        key = "usersession-seen:" + hashlib.sha256(client.encode()).hexdigest()
        try:
            return bool(cache.add(key, 1, timeout=interval))
        except Exception:  # noqa: BLE001 - Redis unreachable: write the activity, as allauth would
            return True
