from __future__ import annotations

from django import template

from evaluations.selectors.registry import connection_test_reason

register = template.Library()


@register.filter
def connection_reason(error: str) -> str:
    """A failed connection test's plain reason (the technical detail is for portal admins)."""
    return connection_test_reason(error=error)
