"""The service navigation. Each app adds its entries here, shown only to roles that may use them."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

# (label, url name, predicate on the user)
NAV: list[tuple[str, str, Any]] = [
    ("Home", "home", lambda user: True),
    ("Runs", "run-list", lambda user: _institute_member(user)),
    ("Notifications", "notification-list", lambda user: _institute_member(user)),
]


def _institute_member(user: Any) -> bool:
    from accounts.access import is_institute_member

    return bool(user.is_authenticated and is_institute_member(user))


def nav_items_for(user: Any) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for label, url_name, allowed in NAV:
        if not allowed(user):
            continue
        try:
            items.append({"label": label, "url": reverse(url_name)})
        except NoReverseMatch:
            continue
    return items
