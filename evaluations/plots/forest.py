"""The paired-difference forest plot of a comparison (pure, SVG through ``plots/svg.py``): one row per pair of
items, the difference as a point, its interval as whiskers, a labelled line at zero. Significance after Holm's
correction is told by shape (filled circle; hollow diamond otherwise) and in words at the end of the row, never
by colour alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evaluations.plots.svg import BLUE, LIGHT, SECONDARY, TEXT, Canvas, Scale, bounds, nice_ticks, truncate

LABEL_WIDTH = 300
VALUE_WIDTH = 170
ROW_HEIGHT = 44


@dataclass(frozen=True)
class ForestRow:
    """One pair: ``label`` is B, ``base`` is A (the difference is B minus A)."""

    label: str
    base: str
    difference: float | None
    low: float | None
    high: float | None
    significant: bool


def _fmt(value: float | None, points: bool) -> str:
    if value is None:
        return "–"
    return f"{value * 100:+.1f}" if points else f"{value:+.3g}"


def _tick(value: float, points: bool) -> str:
    if abs(value) < 1e-9:
        return "0"
    return f"{value * 100:+.0f}" if points else f"{value:+.3g}"


def difference_forest(rows: Sequence[ForestRow], *, title: str, id_prefix: str, points: bool = True,
                      width: int = 680) -> str:
    """Forest plot of paired differences (B minus A); ``points``: differences of proportions, in points."""
    values = [v for r in rows for v in (r.difference, r.low, r.high) if v is not None]
    low, high = bounds([0.0, *values], pad=0.1)
    height = 40 + ROW_HEIGHT * max(1, len(rows)) + 40
    plot_end = width - VALUE_WIDTH
    scale = Scale(low, high, LABEL_WIDTH, plot_end)
    unit = " points" if points else ""
    words = "; ".join(
        f"{r.label} minus {r.base}: {_fmt(r.difference, points)}{unit}"
        + (f" (interval {_fmt(r.low, points)} to {_fmt(r.high, points)})" if r.low is not None else "")
        + (", significant after Holm correction" if r.significant else ", not significant") for r in rows)
    canvas = Canvas(width, height, title, f"Forest plot of paired differences with confidence intervals; the "
                                         f"vertical line is no difference. {words}.", id_prefix)
    top = 30
    for tick in nice_ticks(low, high):
        x = scale(tick)
        canvas.line(x, top - 6, x, top + ROW_HEIGHT * len(rows), stroke=LIGHT)
        canvas.text(x, top - 10, _tick(tick, points), size=11, anchor="middle", fill=SECONDARY)
    zero = scale(0.0)
    canvas.line(zero, top - 4, zero, top + ROW_HEIGHT * len(rows), stroke=TEXT, dash="4 3")
    for index, row in enumerate(rows):
        middle = top + ROW_HEIGHT * index + ROW_HEIGHT / 2
        canvas.text(LABEL_WIDTH - 8, middle - 3, truncate(row.label, 42), anchor="end")
        canvas.text(LABEL_WIDTH - 8, middle + 12, truncate(f"minus {row.base}", 46), size=11, anchor="end",
                    fill=SECONDARY)
        if row.low is not None and row.high is not None:
            canvas.whisker(scale(row.low), scale(row.high), middle, stroke=TEXT)
        if row.difference is not None:
            if row.significant:
                canvas.circle(scale(row.difference), middle, 6, fill=BLUE, stroke=TEXT)
            else:
                canvas.diamond(scale(row.difference), middle, 7)
        canvas.text(plot_end + 8, middle + 4, f"{_fmt(row.difference, points)}{unit}"
                    + (" significant" if row.significant else " not significant"), size=11)
    bottom = top + ROW_HEIGHT * len(rows)
    canvas.text(zero, bottom + 16, "No difference", size=11, anchor="middle", fill=SECONDARY)
    canvas.text(10, height - 6, "Filled circle: significant after Holm correction. Hollow diamond: not "
                                "significant.", size=11, fill=SECONDARY)
    return canvas.render()
