"""The trend plot (issue 13) as server-rendered SVG: one point per finished item, oldest on the left, with its 95 %
interval as a whisker; the baseline as a dashed line with a text label; a point significantly below the baseline
drawn as a downward triangle and labelled "below" (shape and text, never colour alone). Every text is escaped;
the SVG carries a title and a description (the text alternative); the page shows the data table beside it.
Pure Python: no Django."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


@dataclass(frozen=True)
class Point:
    label: str
    mean: float
    low: float
    high: float
    baseline: bool = False
    below: bool = False  # significantly below the baseline


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _scale(points: Sequence[Point]) -> tuple[float, float]:
    lows = [p.low for p in points]
    highs = [p.high for p in points]
    low, high = min(lows), max(highs)
    if low >= 0 and high <= 1:  # a proportion: the whole 0-1 range keeps plots comparable
        return 0.0, 1.0
    if high - low < 1e-9:
        return low - 1, high + 1
    pad = (high - low) * 0.1
    return low - pad, high + pad


def description(points: Sequence[Point], *, metric: str) -> str:
    """The plot in words (its text alternative)."""
    if not points:
        return f"No results of {metric} yet."
    parts = [f"{metric} over {len(points)} result{'s' if len(points) != 1 else ''}, oldest first."]
    base = next((p for p in points if p.baseline), None)
    if base is not None:
        parts.append(f"Baseline {base.label}: {base.mean:.3g}.")
    below = [p.label for p in points if p.below]
    parts.append(f"Significantly below the baseline: {', '.join(below)}." if below
                 else "None significantly below the baseline." if base is not None else "No baseline chosen.")
    latest = points[-1]
    parts.append(f"Latest {latest.label}: {latest.mean:.3g} (95 % interval {latest.low:.3g} to {latest.high:.3g}).")
    return " ".join(parts)


def trend_svg(points: Sequence[Point], *, metric: str, plot_id: str) -> str:
    """The SVG markup (safe to insert: every text is escaped). ``plot_id`` makes the title and description ids
    unique on a page with several plots."""
    pid = escape(plot_id, quote=True)
    title = escape(f"Trend of {metric}")
    desc = escape(description(points, metric=metric))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="portal-plot" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'role="img" aria-labelledby="{pid}-title {pid}-desc" focusable="false">',
           f'<title id="{pid}-title">{title}</title><desc id="{pid}-desc">{desc}</desc>']
    if not points:
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No results yet</text></svg>')
        return "".join(out)
    lo, hi = _scale(points)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - lo) / (hi - lo))

    def x(index: int) -> float:
        return LEFT + plot_w * ((index + 0.5) / len(points))

    # axes and ticks
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#0b0c0c"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#0b0c0c"/>')
    for step in range(5):
        value = lo + (hi - lo) * step / 4
        out.append(f'<text x="{LEFT - 6}" y="{_fmt(y(value) + 4)}" text-anchor="end" font-size="12">'
                   f'{escape(f"{value:.3g}")}</text>')
    base = next((p for p in points if p.baseline), None)
    if base is not None:
        by = _fmt(y(base.mean))
        out.append(f'<line x1="{LEFT}" y1="{by}" x2="{LEFT + plot_w}" y2="{by}" stroke="#505a5f" '
                   f'stroke-dasharray="6 4"/>')
        out.append(f'<text x="{LEFT + plot_w - 4}" y="{_fmt(y(base.mean) - 6)}" text-anchor="end" font-size="12">'
                   f'Baseline</text>')
    previous: tuple[float, float] | None = None
    for index, point in enumerate(points):
        cx, cy = x(index), y(point.mean)
        if previous is not None:
            out.append(f'<line x1="{_fmt(previous[0])}" y1="{_fmt(previous[1])}" x2="{_fmt(cx)}" y2="{_fmt(cy)}" '
                       f'stroke="#1d70b8" stroke-width="1.5"/>')
        previous = (cx, cy)
        out.append(f'<line x1="{_fmt(cx)}" y1="{_fmt(y(point.low))}" x2="{_fmt(cx)}" y2="{_fmt(y(point.high))}" '
                   f'stroke="#0b0c0c"/>')
        label = escape(f"{point.label}: {point.mean:.3g} ({point.low:.3g} to {point.high:.3g})")
        if point.below:
            out.append(f'<path d="M{_fmt(cx - 6)} {_fmt(cy - 5)} L{_fmt(cx + 6)} {_fmt(cy - 5)} L{_fmt(cx)} '
                       f'{_fmt(cy + 6)} Z" fill="#d4351c"><title>{label}, significantly below the baseline</title>'
                       f'</path>')
            out.append(f'<text x="{_fmt(cx)}" y="{_fmt(cy + 20)}" text-anchor="middle" font-size="11">below</text>')
        elif point.baseline:
            out.append(f'<rect x="{_fmt(cx - 5)}" y="{_fmt(cy - 5)}" width="10" height="10" fill="#505a5f">'
                       f'<title>{label}, the baseline</title></rect>')
        else:
            out.append(f'<circle cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="4.5" fill="#1d70b8"><title>{label}</title>'
                       f'</circle>')
        out.append(f'<text x="{_fmt(cx)}" y="{HEIGHT - 12}" text-anchor="middle" font-size="11">{index + 1}</text>')
    out.append("</svg>")
    return "".join(out)
