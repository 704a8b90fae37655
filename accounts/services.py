"""Writes for organisations, people, invitations and API tokens. Every change is audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import access
from accounts.models import ApiToken, Invitation, Organisation, User
from accounts.rules import token_scopes_allowed
from portal.audit import audit_record

TOKEN_PREFIX = "jtp"  # noqa: S105 - the public prefix of every token, not a secret  # nosec B105
INVITATION_DAYS = 7
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _user_snapshot(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "organisation": user.organisation_id,
        "role": user.role,
        "is_portal_admin": user.is_portal_admin,
        "is_staff": user.is_staff,
        "is_active": user.is_active,
    }


def _validate_role(*, organisation: Organisation, role: str, is_admin: bool) -> None:
    errors: dict[str, str] = {}
    if role not in User.Role.values:
        errors["role"] = "Choose a role."
    elif organisation.kind == Organisation.Kind.PARTNER and role != User.Role.PARTNER_VIEWER:
        errors["role"] = "Members of a partner organisation can only be partner viewers."
    elif organisation.kind == Organisation.Kind.INSTITUTE and role == User.Role.PARTNER_VIEWER:
        errors["role"] = "Members of an institute are staff or approvers."
    if is_admin and organisation.kind != Organisation.Kind.INSTITUTE:
        errors["is_admin"] = "Only members of an institute can be portal admins."
    if errors:
        raise ValidationError(errors)


# --- Organisations ------------------------------------------------------------------------------------------

def organisation_create(
    *, actor: User, name: str, kind: str, country_code: str, request: HttpRequest | None = None
) -> Organisation:
    access.require(actor, access.CREATE, Organisation)
    org = Organisation(name=name.strip(), kind=kind, country_code=country_code.strip().upper())
    org.full_clean()
    with transaction.atomic():
        org.save()
        audit_record(actor=actor, action="organisation.create", obj=org, after=_org_snapshot(org), request=request)
    return org


def _org_snapshot(org: Organisation) -> dict[str, Any]:
    return {"name": org.name, "kind": org.kind, "country_code": org.country_code}


def organisation_update(
    *, actor: User, organisation: Organisation, request: HttpRequest | None = None, **fields: Any
) -> Organisation:
    access.require(actor, access.EDIT, organisation)
    before = _org_snapshot(organisation)
    if "kind" in fields and fields["kind"] != organisation.kind and organisation.members.exists():
        raise ValidationError({"kind": "An organisation with members cannot change kind."})
    for key in ("name", "kind", "country_code"):
        if key in fields:
            setattr(organisation, key, fields[key].strip().upper() if key == "country_code" else fields[key])
    organisation.full_clean()
    with transaction.atomic():
        organisation.save()
        audit_record(
            actor=actor, action="organisation.update", obj=organisation, before=before,
            after=_org_snapshot(organisation), request=request,
        )
    return organisation


# --- People ------------------------------------------------------------------------------------------------

def user_role_change(
    *, actor: User, user: User, role: str, is_portal_admin: bool, is_active: bool | None = None,
    request: HttpRequest | None = None,
) -> User:
    """Change a person's role and admin flag (admins only). An admin cannot remove their own admin flag."""
    access.require(actor, access.EDIT, user)
    assert user.organisation is not None
    _validate_role(organisation=user.organisation, role=role, is_admin=is_portal_admin)
    if user.pk == actor.pk and (not is_portal_admin or is_active is False):
        raise ValidationError({"is_portal_admin": "You cannot remove your own admin access or deactivate yourself."})
    before = _user_snapshot(user)
    user.role = role
    user.is_portal_admin = is_portal_admin
    user.is_staff = is_portal_admin  # the Django admin is for portal admins only
    if is_active is not None:
        user.is_active = is_active
    with transaction.atomic():
        user.save(update_fields=["role", "is_portal_admin", "is_staff", "is_active"])
        audit_record(
            actor=actor, action="user.role_change", obj=user, before=before, after=_user_snapshot(user), request=request
        )
    return user


def login_failure_record(*, email: str, request: HttpRequest | None, reason: str = "bad credentials") -> None:
    audit_record(
        actor=None, actor_email=email[:254], action="auth.login_failed", after={"email": email[:254], "reason": reason},
        request=request,
    )


def login_throttled_record(*, email: str, request: HttpRequest | None, step: str) -> None:
    """An attempt refused by the rate limit before its password or MFA code was checked."""
    audit_record(
        actor=None, actor_email=email[:254], action="auth.login_throttled",
        after={"email": email[:254], "step": step, "reason": "too many failed attempts: refused without checking"},
        request=request,
    )


# --- Invitations --------------------------------------------------------------------------------------------

@dataclass
class CreatedInvitation:
    invitation: Invitation
    token: str  # shown once, in the link


def invitation_create(
    *, actor: User, email: str, organisation: Organisation, role: str, is_admin: bool = False,
    days: int = INVITATION_DAYS, request: HttpRequest | None = None,
) -> CreatedInvitation:
    access.require(actor, access.CREATE, Invitation)
    email = email.strip().lower()
    _validate_role(organisation=organisation, role=role, is_admin=is_admin)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "An account with this email address already exists."})
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        email=email, organisation=organisation, role=role, is_admin=is_admin, token_hash=sha256_hex(token),
        created_by=actor, expires_at=timezone.now() + timedelta(days=days),
    )
    invitation.full_clean()
    with transaction.atomic():
        invitation.save()
        audit_record(
            actor=actor, action="invitation.create", obj=invitation, request=request,
            after={"email": email, "organisation": organisation.pk, "role": role, "is_admin": is_admin,
                   "expires_at": invitation.expires_at},
        )
    return CreatedInvitation(invitation=invitation, token=token)


def invitation_revoke(*, actor: User, invitation: Invitation, request: HttpRequest | None = None) -> Invitation:
    access.require(actor, access.DELETE, invitation)
    with transaction.atomic():
        updated = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not updated:
            raise ValidationError("This invitation has already been accepted or revoked.")
        invitation.refresh_from_db()
        audit_record(
            actor=actor, action="invitation.revoke", obj=invitation, request=request,
            before={"status": "pending"}, after={"status": "revoked", "email": invitation.email},
        )
    return invitation


class InvitationRefused(Exception):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def invitation_check(*, token: str, request: HttpRequest | None = None, audit: bool = True) -> Invitation:
    """The invitation a token names, if usable; else ``InvitationRefused`` with a clear message (audited)."""
    invitation = Invitation.objects.select_related("organisation").filter(token_hash=sha256_hex(token or "")).first()
    refusal: InvitationRefused | None = None
    if invitation is None:
        refusal = InvitationRefused("This invitation link is not valid. Check you copied the whole link.", "unknown token")
    elif invitation.accepted_at is not None:
        refusal = InvitationRefused(
            "This invitation has already been used. Sign in with your account, or ask an admin for a new invitation.",
            "already used",
        )
    elif invitation.revoked_at is not None:
        refusal = InvitationRefused("This invitation has been withdrawn. Ask an admin for a new invitation.", "revoked")
    elif invitation.expires_at <= timezone.now():
        refusal = InvitationRefused("This invitation has expired. Ask an admin for a new invitation.", "expired")
    if refusal is not None:
        if audit:
            audit_record(
                actor=None, action="invitation.refused", obj=invitation, request=request,
                after={"reason": refusal.reason}, actor_email=invitation.email if invitation else "",
            )
        raise refusal
    assert invitation is not None
    return invitation


def invitation_accept(
    *, token: str, email: str, password: str, full_name: str = "", request: HttpRequest | None = None
) -> User:
    """Create the invited account: email verified and primary. The caller signs the user in and sends them
    to MFA enrolment."""
    from django.contrib.auth.password_validation import validate_password

    # Refusals are audited outside the account-creating transaction, so the audit row survives.
    invitation = invitation_check(token=token, request=request)
    if email.strip().lower() != invitation.email:
        audit_record(
            actor=None, action="invitation.refused", obj=invitation, request=request, actor_email=invitation.email,
            after={"reason": "different email", "email_given": email.strip().lower()[:254]},
        )
        raise InvitationRefused(
            "This invitation was sent to a different email address. Use the address the invitation was sent to.",
            "different email",
        )
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None or invitation.revoked_at is not None:
            raise InvitationRefused("This invitation has already been used or withdrawn.", "race")
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise InvitationRefused("An account with this email address already exists. Sign in instead.", "exists")
        user = User(
            email=invitation.email, full_name=full_name.strip(), organisation=invitation.organisation,
            role=invitation.role, is_portal_admin=invitation.is_admin, is_staff=invitation.is_admin,
        )
        validate_password(password, user)
        user.set_password(password)
        user.save()
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        invitation.accepted_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
        audit_record(
            actor=user, action="invitation.accept", obj=invitation, request=request,
            after={"user": user.pk, "email": user.email, "organisation": user.organisation_id, "role": user.role,
                   "is_admin": user.is_portal_admin},
        )
    return user


# --- API tokens ----------------------------------------------------------------------------------------------

@dataclass
class CreatedToken:
    token: ApiToken
    plain: str  # shown once, never stored


def api_token_create(
    *, user: User, scope: str, name: str = "", days: int = DEFAULT_TOKEN_DAYS, actor: User | None = None,
    request: HttpRequest | None = None,
) -> CreatedToken:
    """A new token for ``user``. The scope never exceeds the role (partner viewers: read only)."""
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": "Scope must be read or write."})
    if scope not in token_scopes_allowed(user):
        raise PermissionDenied(
            "Your role allows read-only tokens." if token_scopes_allowed(user) else "Your account cannot have tokens."
        )
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError({"days": f"A token lasts between 1 and {MAX_TOKEN_DAYS} days."})
    prefix = secrets.token_hex(4)
    plain = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name.strip()[:100], prefix=prefix, token_hash=sha256_hex(plain), scope=scope,
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_record(
            actor=actor or user, action="token.create", obj=token, request=request,
            after={"user": user.pk, "prefix": prefix, "scope": scope, "name": token.name, "expires_at": token.expires_at},
        )
    return CreatedToken(token=token, plain=plain)


def api_token_revoke(*, actor: User, token: ApiToken, request: HttpRequest | None = None) -> ApiToken:
    access.require(actor, access.DELETE, token)
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
        if updated:
            audit_record(
                actor=actor, action="token.revoke", obj=token, request=request,
                before={"prefix": token.prefix, "revoked": False}, after={"prefix": token.prefix, "revoked": True},
            )
    return token


def api_token_authenticate(*, plain: str) -> ApiToken | None:
    """The active token for a presented value, or None. Updates last_used_at (at most once a minute)."""
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    token = ApiToken.objects.select_related("user", "user__organisation").filter(prefix=parts[1]).first()
    if token is None or not secrets.compare_digest(token.token_hash, sha256_hex(plain)):
        return None
    now = timezone.now()
    if token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_write_used(*, token: ApiToken, request: Any) -> None:
    """Audit a write made with a token (method and path; never the body or the token)."""
    audit_record(
        actor=token.user, action="token.write", obj=token, request=getattr(request, "_request", request),
        after={"prefix": token.prefix, "method": request.method, "path": request.path[:300]},
    )
