"""Helpers shared by tests."""

from __future__ import annotations

from typing import Any


def sign_in(client: Any, user: Any) -> Any:
    """Log ``user`` into the Django test ``client`` as a session that has completed MFA.

    The accounts issue makes this enrol TOTP and mark the session MFA-authenticated."""
    client.force_login(user)
    return client
