"""Template helpers of the run pages: durations, money and numbers as people read them, sort links of the
results table, and the compare picker an exercise page includes (``{% compare_picker exercise %}``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.http import urlencode

from evaluations.selectors.runs import COMPARE_PICKER_SIZE, exercise_comparable_items

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """3 s, 2 min 5 s, 1 h 4 min; "–" when unknown."""
    if seconds is None:
        return "–"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@register.filter
def dollars(amount: Decimal | float | None) -> str:
    """A cost in US dollars: $0.0123 below a dollar (costs of small runs are fractions of a cent), $12.34 above."""
    if amount is None:
        return "–"
    value = Decimal(str(amount))
    if not value:
        return "$0.00"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


@register.filter
def thousands(number: int | None) -> str:
    return "–" if number is None else f"{number:,}"


@register.simple_tag
def sort_query(column: str, sort: str, order: str) -> str:
    """The query string of a column's sort link: ascending first, descending when it is already ascending."""
    next_order = "desc" if column == sort and order == "asc" else "asc"
    return urlencode({"sort": column, "order": next_order})


@register.simple_tag
def aria_sort(column: str, sort: str, order: str) -> str:
    if column != sort:
        return "none"
    return "descending" if order == "desc" else "ascending"


@register.inclusion_tag("evaluations/runs/_compare_picker.html", takes_context=True)
def compare_picker(context: dict[str, Any], exercise: Any) -> dict[str, Any]:
    """The newest finished items of an exercise's runs, by evaluation version, to check and compare."""
    request = context["request"]
    groups = exercise_comparable_items(user=request.user, exercise=exercise, limit=COMPARE_PICKER_SIZE)
    return {"groups": groups, "exercise": exercise, "limit": COMPARE_PICKER_SIZE,
            "cut": sum(len(items) for _, items in groups) >= COMPARE_PICKER_SIZE}


@register.filter
def run_label(run: Any) -> Any:
    """The run's state as people read it (evaluations.rules.runs, the one place for state words)."""
    from evaluations.rules.runs import run_state_label

    return run_state_label(state=run.state)


@register.filter
def item_error_reason(error: str) -> str:
    """An item's error as a plain reason (the technical detail is for portal admins)."""
    from evaluations.selectors.runs import run_item_error_reason

    return run_item_error_reason(error=error)


@register.filter
def notice_outdated(notice: Any) -> bool:
    """A notice that asked for a decision on a run that has moved on since."""
    from evaluations.rules.runs import notification_outdated

    return notification_outdated(kind=notice.kind, run=notice.run)


@register.filter
def p_value(value: float | None) -> str:
    """0.146; "below 0.001" rather than a misleading 0.000; "–" when there is none."""
    if value is None:
        return "–"
    return "below 0.001" if value < 0.001 else f"{value:.3f}"
