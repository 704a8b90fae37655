"""Score plots (pure, server-rendered SVG through ``plots/svg.py``): bars of each item's mean with its interval
as whiskers, and the distribution of each item's sample scores as a histogram. The caller shows each plot's data
table next to it; the plot's ``<title>``/``<desc>`` say what it shows in words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from evaluations.plots.svg import (
    BLUE,
    GREY,
    LIGHT,
    SECONDARY,
    TEXT,
    Canvas,
    Scale,
    axis_label,
    bounds,
    nice_ticks,
    truncate,
)

LABEL_WIDTH = 280
VALUE_WIDTH = 150
ROW_HEIGHT = 34


@dataclass(frozen=True)
class Bar:
    label: str
    mean: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0


def _fmt(value: float | None, percent: bool) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if percent else f"{value:.3g}"


def score_bars(bars: Sequence[Bar], *, title: str, id_prefix: str, percent: bool = True, width: int = 680) -> str:
    """Horizontal bars from 0 to each mean, with the interval as whiskers and the value and interval in text
    at the end of each row. ``percent``: scores are proportions (axis 0 to 100 %)."""
    values = [v for b in bars for v in (b.mean, b.low, b.high) if v is not None]
    low, high = (0.0, 1.0) if percent else bounds([0.0, *values])
    height = 40 + ROW_HEIGHT * max(1, len(bars)) + 30
    plot_end = width - VALUE_WIDTH
    scale = Scale(low, high, LABEL_WIDTH, plot_end)
    words = "; ".join(
        f"{b.label}: {_fmt(b.mean, percent)}" + (f" (interval {_fmt(b.low, percent)} to {_fmt(b.high, percent)})"
                                                   if b.low is not None and b.high is not None else "")
        for b in bars)
    canvas = Canvas(width, height, title, f"Bar chart of the mean score of each item with its confidence "
                                         f"interval as whiskers. {words}.", id_prefix)
    top = 30
    for tick in nice_ticks(low, high):
        x = scale(tick)
        canvas.line(x, top - 6, x, top + ROW_HEIGHT * len(bars), stroke=LIGHT)
        canvas.text(x, top - 10, axis_label(tick, percent=percent), size=11, anchor="middle", fill=SECONDARY)
    zero = scale(max(low, 0.0)) if low <= 0 <= high else scale(low)
    for index, bar in enumerate(bars):
        y = top + ROW_HEIGHT * index
        middle = y + ROW_HEIGHT / 2
        canvas.text(LABEL_WIDTH - 8, middle + 4, truncate(bar.label, 42), anchor="end")
        if bar.mean is not None:
            x = scale(bar.mean)
            canvas.rect(min(zero, x), y + 7, abs(x - zero), ROW_HEIGHT - 14, fill=BLUE)
            if bar.low is not None and bar.high is not None:
                canvas.whisker(scale(bar.low), scale(bar.high), middle, cap=7, stroke=TEXT)
        text = _fmt(bar.mean, percent)
        if bar.low is not None and bar.high is not None:
            text += f" ({_fmt(bar.low, percent)} to {_fmt(bar.high, percent)})"
        canvas.text(plot_end + 8, middle + 4, text, size=11)
    canvas.line(zero, top - 4, zero, top + ROW_HEIGHT * len(bars), stroke=TEXT)
    canvas.text(LABEL_WIDTH, height - 8, "Whiskers: confidence interval", size=11, fill=SECONDARY)
    return canvas.render()


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int

    @property
    def label(self) -> str:
        return f"{self.low:.3g} to {self.high:.3g}"


def histogram_bins(values: Sequence[float], *, proportion: bool, within: Sequence[float] | None = None,
                   count: int = 10) -> list[Bin]:
    """Bins of the values: 0 and 1 when every value is one of them, tenths of 0 to 1 for proportions, else
    ``count`` equal bins over the range (the last bin closed). ``within``: all the values of the plot (every
    item's), so that every item gets the same bins."""
    scheme = list(within) if within is not None else list(values)
    if not scheme:
        return []
    if all(v in (0.0, 1.0) for v in scheme):
        ones = sum(1 for v in values if v == 1.0)
        return [Bin(0.0, 0.0, len(values) - ones), Bin(1.0, 1.0, ones)]
    low, high = (0.0, 1.0) if proportion else (min(scheme), max(scheme))
    if high == low:
        return [Bin(low, high, len(values))]
    width = (high - low) / count
    counts = [0] * count
    for value in values:
        counts[min(count - 1, max(0, math.floor((value - low) / width)))] += 1
    return [Bin(low + i * width, low + (i + 1) * width, c) for i, c in enumerate(counts)]


def score_histograms(series: Sequence[tuple[str, Sequence[Bin]]], *, title: str, id_prefix: str,
                     width: int = 680) -> str:
    """One histogram panel per item (label above it), the bars' counts written above them; shared bins."""
    panel_height, gap = 120, 40
    height = 10 + (panel_height + gap) * max(1, len(series))
    words = "; ".join(f"{label}: " + ", ".join(f"{b.label}: {b.count}" for b in bins) for label, bins in series)
    canvas = Canvas(width, height, title, f"Histograms of the sample scores, one per item. {words}.", id_prefix)
    for index, (label, bins) in enumerate(series):
        top = 10 + index * (panel_height + gap)
        canvas.text(10, top + 12, truncate(label, 80), weight="bold")
        if not bins:
            canvas.text(10, top + 40, "No scored samples", fill=SECONDARY)
            continue
        peak = max(b.count for b in bins) or 1
        slot = (width - 20) / len(bins)
        base = top + panel_height
        for position, b in enumerate(bins):
            h = (panel_height - 45) * b.count / peak
            x = 10 + position * slot
            canvas.rect(x + 2, base - 18 - h, slot - 4, h, fill=BLUE, stroke=TEXT if b.count else "none")
            canvas.text(x + slot / 2, base - 22 - h, b.count, size=11, anchor="middle")
            canvas.text(x + slot / 2, base - 4, b.label if b.low != b.high else f"{b.low:.3g}", size=10,
                        anchor="middle", fill=SECONDARY)
        canvas.line(10, base - 18, width - 10, base - 18, stroke=GREY)
    return canvas.render()
