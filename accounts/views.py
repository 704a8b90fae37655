"""Pages of the accounts area: invitation acceptance, profile and tokens, admin pages, audit trail."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

# allauth's public ratelimit module is hard-wired to its own settings; this rate is the portal's own.
from allauth.core.internal import ratelimit
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts import access
from accounts.forms import (
    AuditFilterForm,
    InvitationAcceptForm,
    InvitationCreateForm,
    OrganisationForm,
    TokenCreateForm,
    UserRoleForm,
)
from accounts.mfa import record_password_set
from accounts.models import ApiToken, Invitation, Organisation, User
from accounts.reauth import reauthentication_required
from accounts.selectors import audit_event_rows, audit_events_filter, users_for_admin
from accounts.services import (
    InvitationRefused,
    api_token_create,
    api_token_revoke,
    invitation_accept,
    invitation_check,
    invitation_create,
    invitation_revoke,
    organisation_create,
    organisation_update,
    user_role_change,
)
from portal.forms import form_errors_add
from portal.models import AuditEvent
from portal.pagination import page_of

# --- Invitation acceptance (public) ------------------------------------------------------------------------

# Refused invitation links (forged, used, expired...) per IP: guessing tokens, or flooding the audit trail with
# refusals, is slow. Only refusals count; once over the limit every attempt from that IP waits.
INVITATION_REFUSALS_RATE = {"invitation_refused": "30/m/ip"}


def _invitation_refused(request: HttpRequest, message: str) -> HttpResponse:
    ratelimit.consume(request, app="accounts", action="invitation_refused", config=INVITATION_REFUSALS_RATE,
                      limit_get=True)
    return render(request, "accounts/invitation_refused.html", {"message": message}, status=400)


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    if not ratelimit.consume(request, app="accounts", action="invitation_refused", config=INVITATION_REFUSALS_RATE,
                             limit_get=True, dry_run=True):
        return render(request, "accounts/invitation_refused.html",
                      {"message": "Too many invalid invitation links from your network. Wait a minute and try again."},
                      status=429)
    if request.user.is_authenticated:
        return render(request, "accounts/invitation_refused.html",
                      {"message": "You are already signed in. Sign out before accepting an invitation."}, status=400)
    try:
        invitation = invitation_check(token=token, request=request)
    except InvitationRefused as refusal:
        return _invitation_refused(request, refusal.message)
    form = InvitationAcceptForm(request.POST or None, initial={"email": ""})
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(
                token=token, email=form.cleaned_data["email"], password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"], request=request,
            )
        except InvitationRefused as refusal:
            return _invitation_refused(request, refusal.message)
        except ValidationError as exc:
            form.add_error("password1", exc.messages)
        else:
            login(request, user, backend="allauth.account.auth_backends.AuthenticationBackend")
            # The password was just set: it counts as a fresh (re-)authentication for enrolling MFA.
            record_password_set(request, user)
            messages.success(request, "Your account is ready. Now set up your authenticator app.")
            return redirect("mfa_activate_totp")
    return render(request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation})


# --- Profile and tokens ------------------------------------------------------------------------------------

def _profile_context(request: HttpRequest) -> dict[str, Any]:
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession

    return {
        "tokens": access.visible_to(request.user, ApiToken.objects.order_by("-created_at")),
        "sessions": UserSession.objects.filter(user=request.user.pk).order_by("-last_seen_at"),
        "authenticators": Authenticator.objects.filter(user=request.user.pk).order_by("type", "created_at"),
        "current_session_key": request.session.session_key,
    }


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile.html", {**_profile_context(request), "token_form": TokenCreateForm()})


@login_required
@require_POST
@reauthentication_required
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if form.is_valid():
        try:
            created = api_token_create(user=request.user, request=request, **form.cleaned_data)  # type: ignore[arg-type]
        except PermissionDenied as exc:
            form.add_error("scope", str(exc))
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            return render(request, "accounts/token_created.html", {"token": created.token, "plain": created.plain})
    return render(request, "accounts/profile.html", {**_profile_context(request), "token_form": form}, status=400)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = access.get_visible_or_404(request.user, ApiToken.objects.all(), pk=pk)
    api_token_revoke(actor=request.user, token=token, request=request)  # type: ignore[arg-type]
    messages.success(request, f"You revoked the token {token.prefix}…. It no longer works.")
    return redirect("profile")


# --- Admin: organisations, users, invitations ------------------------------------------------------------

ADMINS_ONLY = "Only portal admins can use this page."

@login_required
@require_http_methods(["GET", "POST"])
def manage_organisations(request: HttpRequest) -> HttpResponse:
    access.require(request.user, access.MANAGE, Organisation, ADMINS_ONLY)
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisation_create(actor=request.user, request=request, **form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, "You added the organisation.")
            return redirect("manage_organisations")
    organisations = access.visible_to(request.user, Organisation.objects.order_by("name"))
    return render(request, "accounts/manage_organisations.html",
                  {"page": page_of(request, organisations), "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def manage_organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = access.get_visible_or_404(request.user, Organisation.objects.all(), pk=pk)
    access.require(request.user, access.EDIT, organisation, "Only portal admins edit organisations.")
    form = OrganisationForm(request.POST or None, instance=Organisation.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        try:
            organisation_update(actor=request.user, organisation=organisation, request=request,  # type: ignore[arg-type]
                                **form.cleaned_data)
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, "Organisation saved.")
            return redirect("manage_organisations")
    return render(request, "accounts/manage_organisation_edit.html", {"form": form, "organisation": organisation})


@login_required
def manage_users(request: HttpRequest) -> HttpResponse:
    access.require(request.user, access.MANAGE, User, ADMINS_ONLY)
    q = request.GET.get("q", "").replace("\x00", "")
    users = users_for_admin(queryset=access.visible_to(request.user, User.objects.all()), q=q)
    return render(request, "accounts/manage_users.html", {"page": page_of(request, users), "q": q})


@login_required
@require_http_methods(["GET", "POST"])
def manage_user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = access.get_visible_or_404(request.user, User.objects.select_related("organisation"), pk=pk)
    access.require(request.user, access.EDIT, person, "Only portal admins change roles.")
    form = UserRoleForm(request.POST or None, initial={
        "role": person.role, "is_portal_admin": person.is_portal_admin, "is_active": person.is_active,
    })
    if request.method == "POST" and form.is_valid():
        try:
            user_role_change(actor=request.user, user=person, request=request, **form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, f"You changed the role of {person.email}.")
            return redirect("manage_users")
    return render(request, "accounts/manage_user_edit.html", {"form": form, "person": person})


@login_required
@require_http_methods(["GET", "POST"])
def manage_invitations(request: HttpRequest) -> HttpResponse:
    access.require(request.user, access.MANAGE, Invitation, ADMINS_ONLY)
    form = InvitationCreateForm(request.POST or None)
    created_link = None
    if request.method == "POST" and form.is_valid():
        try:
            created = invitation_create(actor=request.user, request=request, **form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            created_link = request.build_absolute_uri(reverse("invitation_accept", args=[created.token]))
            _send_invitation(created.invitation, created_link)
            form = InvitationCreateForm()
    invitations = access.visible_to(
        request.user, Invitation.objects.select_related("organisation", "created_by").order_by("-created_at")
    )
    return render(request, "accounts/manage_invitations.html",
                  {"page": page_of(request, invitations), "form": form, "created_link": created_link})


def _send_invitation(invitation: Invitation, link: str) -> None:
    from django.core.mail import send_mail

    send_mail(
        "Your invitation to the Joint Testing Portal",
        f"You have been invited to the Joint Testing Portal as a member of {invitation.organisation}.\n\n"
        f"Accept the invitation (before {invitation.expires_at:%d %B %Y %H:%M} UTC): {link}\n",
        None, [invitation.email],
    )


@login_required
@require_POST
def manage_invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = access.get_visible_or_404(request.user, Invitation.objects.all(), pk=pk)
    try:
        invitation_revoke(actor=request.user, invitation=invitation, request=request)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"You revoked the invitation for {invitation.email}. Its link no longer works.")
    return redirect("manage_invitations")


# --- Audit trail --------------------------------------------------------------------------------------------

def _audit_queryset(request: HttpRequest) -> tuple[Any, AuditFilterForm]:
    access.require(request.user, access.VIEW, AuditEvent, "Partner viewers have no access to the audit trail.")
    form = AuditFilterForm(request.GET or None, user=request.user)
    qs = access.visible_to(request.user, AuditEvent.objects.order_by("-id"))
    if form.is_valid():
        data = form.cleaned_data
        qs = audit_events_filter(
            queryset=qs, action=data["action"], actor=data["actor"],
            exercise_id=data["exercise"].pk if data["exercise"] else None,
            date_from=data["date_from"], date_to=data["date_to"],
        )
    elif form.is_bound:
        qs = qs.none()
    return qs, form


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    qs, form = _audit_queryset(request)
    query = request.GET.copy()
    query.pop("page", None)
    page = page_of(request, qs, 50, capped=True)  # the trail grows without end: a bounded count
    return render(request, "accounts/audit_list.html", {
        "page": page, "rows": audit_event_rows(user=request.user, events=list(page)), "form": form,
        "query": query.urlencode()})


def _csv_safe(value: Any) -> str:
    """A cell as evaluations/reports/tables.py's csv_cell makes it: an object (the event's before and after) as
    JSON, not Python's repr; a formula neutralised with a leading apostrophe."""
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    qs, _ = _audit_queryset(request)
    columns = ["id", "created_at", "actor_email", "organisation_id", "action", "object_type", "object_id",
               "exercise_id", "before", "after", "ip_address", "user_agent", "prev_hash", "hash"]

    def rows() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(columns)
        for event in qs.iterator(chunk_size=1000):
            yield writer.writerow([_csv_safe(getattr(event, c)) for c in columns])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response
