"""Receivers connecting allauth/Django authentication events to services (no logic here)."""

from __future__ import annotations

from typing import Any

from allauth.mfa.signals import authentication_failed, authenticator_added, authenticator_removed
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from accounts.mfa import record_enrolment
from accounts.services import login_failure_record
from portal.audit import audit_record


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    email = str(credentials.get("email") or credentials.get("username") or "")
    login_failure_record(email=email, request=request)


@receiver(authenticator_added)
def _authenticator_added(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    record_enrolment(request, user, authenticator)
    audit_record(actor=user, action="mfa.authenticator_added", obj=authenticator, after={"type": authenticator.type},
                 request=request)


@receiver(authenticator_removed)
def _authenticator_removed(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action="mfa.authenticator_removed", obj=None,
                 after={"type": authenticator.type, "id": authenticator.pk}, request=request)


@receiver(authentication_failed)
def _mfa_failed(sender: Any, request: Any, user: Any, authenticator: Any, reauthentication: bool = False,
                **kwargs: Any) -> None:
    login_failure_record(email=user.email, request=request,
                         reason="wrong MFA code at re-authentication" if reauthentication else "wrong MFA code")
