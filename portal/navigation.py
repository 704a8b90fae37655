"""The service navigation. Each app adds its entries here, shown only to roles that may use them."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from accounts.access import is_admin as _is_admin
from accounts.access import is_institute_member as _is_institute_member
from accounts.access import is_partner_viewer as _is_partner_viewer

# (label, url name, predicate on the user)

NAV: list[tuple[str, str, Any]] = [
    ("Home", "home", lambda user: True),
    ("Exercises", "exercise_list", lambda user: True),
    ("Models", "model-list", _is_institute_member),
    ("Evaluations", "task-list", _is_institute_member),
    ("Runs", "run-list", _is_institute_member),
    ("Findings", "finding-list", lambda user: True),
    ("Notifications", "notification-list", lambda user: _is_institute_member(user) or _is_partner_viewer(user)),
    ("Audit trail", "audit_list", _is_institute_member),
    ("Organisations", "manage_organisations", _is_admin),
    ("People", "manage_users", _is_admin),
    ("Invitations", "manage_invitations", _is_admin),
    ("Profile", "profile", lambda user: True),
]


def nav_items_for(user: Any) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for label, url_name, allowed in NAV:
        if not allowed(user):
            continue
        try:
            items.append({"label": label, "url": reverse(url_name), "name": url_name})
        except NoReverseMatch:
            continue
    return items
