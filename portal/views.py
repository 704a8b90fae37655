"""Base views: home, health, error pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import is_admin
from portal.health import run_checks
from portal.home import home_for


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    healthy, checks = run_checks()
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503)


def home(request: HttpRequest) -> HttpResponse:
    """Public: a sign-in link. Signed in: a personal start page, what waits for the user by role (portal/home.py)."""
    if not request.user.is_authenticated:
        return render(request, "home.html")
    return render(request, "home/home.html", {"home": home_for(user=request.user)})


@require_GET
@never_cache
@login_required
def home_workers(request: HttpRequest) -> HttpResponse:
    """Admins: ask the broker and the workers now (the checks of /readyz). The home page loads it with htmx; without
    JavaScript it is a page of its own."""
    if not is_admin(request.user):
        raise PermissionDenied("Only portal admins see the health of the workers.")
    healthy, checks = run_checks()
    template = "home/_workers.html" if request.headers.get("HX-Request") else "home/workers.html"
    return render(request, template, {"healthy": healthy, "checks": checks})


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


ERROR_TEMPLATES = {400: "errors/400.html", 403: "errors/403.html", 404: "errors/404.html", 500: "errors/500.html"}


def error_response(request: HttpRequest, status: int, message: str, *, show_message: bool = True) -> HttpResponse:
    """The portal's error answer: JSON ``{"detail": ...}`` for the API, else the GOV.UK error page (a 4xx status
    without its own page, such as 409 or 413, uses the 400 page) with the message."""
    if _wants_json(request):
        return JsonResponse({"detail": message}, status=status)
    template = ERROR_TEMPLATES.get(status, "errors/400.html" if status < 500 else "errors/500.html")
    context = {"exception_message": message} if show_message and message else {}
    return render(request, template, context, status=status)


def _error(request: HttpRequest, status: int, message: str, exception: Exception | None = None) -> HttpResponse:
    show = status == 403 and exception is not None and bool(str(exception))
    return error_response(request, status, message, show_message=show)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 400, "Bad request.")


def bad_request_response(request: HttpRequest, message: str, *, field: str = "",
                         fields: dict[str, str] | None = None) -> HttpResponse:
    """A 400 saying what is wrong: JSON (each field at fault under ``errors``) for the API, the error page
    otherwise. ``fields``: field name -> its message (``field``: one field, with ``message``)."""
    errors = dict(fields or {})
    if field:
        errors.setdefault(field, message)
    if _wants_json(request):
        body: dict[str, object] = {"detail": message}
        if errors:
            body["errors"] = {name: [text] for name, text in errors.items()}
        return JsonResponse(body, status=400)
    return render(request, "errors/400.html", {"exception_message": message}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 403, str(exception) or "You do not have permission to do this.", exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 404, "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "Server error. The problem has been logged.")
