"""Template filters of the compare page: scores as percentages when they are proportions, differences in points,
intervals, and a cell's score by metric name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import template

register = template.Library()


def _score(value: float | None, points: bool) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if points else f"{value:.3g}"


@register.filter
def score(value: float | None, points: bool) -> str:
    """0.541 -> "54.1%" for proportions; 3 significant digits otherwise; "–" for none."""
    return _score(value, points)


@register.filter
def score_interval(ci: Sequence[float] | None, points: bool) -> str:
    if not ci:
        return "–"
    return f"{_score(ci[0], points)} to {_score(ci[1], points)}"


@register.filter
def difference(value: float | None, points: bool) -> str:
    """-0.041 -> "−4.1 points" for proportions; "+0.41" otherwise."""
    if value is None:
        return "–"
    if points:
        return f"{value * 100:+.1f} points".replace("-", "−")
    return f"{value:+.3g}".replace("-", "−")


@register.filter
def difference_interval(ci: Sequence[float] | None, points: bool) -> str:
    if not ci:
        return "–"
    if points:
        return f"{ci[0] * 100:+.1f} to {ci[1] * 100:+.1f}".replace("-", "−")
    return f"{ci[0]:+.3g} to {ci[1]:+.3g}".replace("-", "−")


@register.filter
def number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


@register.filter
def metric_of(scores: Mapping[str, Any], name: str) -> Any:
    return scores.get(name) if scores else None


@register.filter
def at(sequence: Sequence[Any], index: int) -> Any:
    try:
        return sequence[index]
    except (IndexError, TypeError):
        return None
