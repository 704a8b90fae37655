from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    """Accounts are created only by accepting an invitation: no open sign-up."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """Once the rate limit refuses a sign-in without checking the password, each refused attempt is still
        audited (issue 12): Django's user_login_failed is not sent for those."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as exc:
            if exc.code == "too_many_login_attempts":
                from accounts.services import login_throttled_record

                login_throttled_record(email=str(credentials.get("email") or credentials.get("username") or ""),
                                       request=request, step="password")
            raise
