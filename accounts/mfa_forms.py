"""allauth's MFA code forms, with throttled attempts audited (issue 12): once the rate limit refuses a code without
checking it, each refused attempt is still written to the audit trail (not only the first five failures)."""

from __future__ import annotations

from allauth.mfa.base import forms as allauth_forms
from django.core.exceptions import ValidationError


class _Throttled:
    def clean_code(self) -> str:
        try:
            return super().clean_code()  # type: ignore[misc]
        except ValidationError as exc:
            if exc.code == "too_many_login_attempts":
                from allauth.core import context

                from accounts.services import login_throttled_record

                login_throttled_record(email=self.user.email, request=context.request,  # type: ignore[attr-defined]
                                       step="MFA code")
            raise


class AuthenticateForm(_Throttled, allauth_forms.AuthenticateForm):
    pass


class ReauthenticateForm(_Throttled, allauth_forms.ReauthenticateForm):
    pass
