"""Shared SVG primitives for the server-rendered plots (pure: no Django). Every text is escaped here, once; a plot
is a ``role="img"`` ``<svg>`` labelled by its ``<title>`` and ``<desc>`` (its text alternative), drawn with
presentation attributes only (``fill=``, ``stroke=``: the CSP forbids ``style`` attributes), and its meaning never
rests on colour alone (marks differ in shape and carry text). The page shows the plot's data table beside it.

Colours: GOV.UK Design System palette (text #0b0c0c, secondary #505a5f, blue #1d70b8, mid grey #b1b4b6)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

TEXT = "#0b0c0c"
SECONDARY = "#505a5f"
BLUE = "#1d70b8"
GREY = "#b1b4b6"
LIGHT = "#f3f2f1"
FONT = "Arial, Helvetica, sans-serif"
_ID = re.compile(r"[^A-Za-z0-9_-]")


def text_escape(value: object) -> str:
    """Text for an SVG text node or attribute (``<``, ``>``, ``&``, quotes escaped)."""
    return escape(str(value), quote=True)


def safe_id(value: str) -> str:
    """An id attribute value made of letters, digits, ``_`` and ``-`` only."""
    return _ID.sub("-", value)[:80] or "plot"


def number(value: float) -> str:
    """A coordinate, short (two decimals, no ``-0``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


@dataclass
class Canvas:
    """An SVG under construction: ``add`` elements, then ``render``."""

    width: float
    height: float
    title: str
    description: str
    id_prefix: str
    parts: list[str] = field(default_factory=list)

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def line(self, x1: float, y1: float, x2: float, y2: float, *, stroke: str = TEXT, width: float = 1,
             dash: str = "") -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{number(x1)}" y1="{number(y1)}" x2="{number(x2)}" y2="{number(y2)}" '
                 f'stroke="{stroke}" stroke-width="{number(width)}"{extra}/>')

    def rect(self, x: float, y: float, w: float, h: float, *, fill: str = BLUE, stroke: str = "none") -> None:
        self.add(f'<rect x="{number(x)}" y="{number(y)}" width="{number(max(0.0, w))}" '
                 f'height="{number(max(0.0, h))}" fill="{fill}" stroke="{stroke}"/>')

    def circle(self, cx: float, cy: float, r: float, *, fill: str = TEXT, stroke: str = TEXT) -> None:
        self.add(f'<circle cx="{number(cx)}" cy="{number(cy)}" r="{number(r)}" fill="{fill}" stroke="{stroke}" '
                 f'stroke-width="1.5"/>')

    def diamond(self, cx: float, cy: float, r: float, *, fill: str = "#ffffff", stroke: str = TEXT) -> None:
        points = f"{number(cx)},{number(cy - r)} {number(cx + r)},{number(cy)} {number(cx)},{number(cy + r)} " \
                 f"{number(cx - r)},{number(cy)}"
        self.add(f'<polygon points="{points}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')

    def text(self, x: float, y: float, value: object, *, size: float = 12, anchor: str = "start",
             fill: str = TEXT, weight: str = "normal") -> None:
        bold = ' font-weight="bold"' if weight == "bold" else ""
        self.add(f'<text x="{number(x)}" y="{number(y)}" font-family="{FONT}" font-size="{number(size)}" '
                 f'text-anchor="{anchor}" fill="{fill}"{bold}>{text_escape(value)}</text>')

    def whisker(self, x1: float, x2: float, y: float, *, cap: float = 5, stroke: str = TEXT) -> None:
        """A horizontal interval with end caps."""
        self.line(x1, y, x2, y, stroke=stroke, width=1.5)
        self.line(x1, y - cap, x1, y + cap, stroke=stroke, width=1.5)
        self.line(x2, y - cap, x2, y + cap, stroke=stroke, width=1.5)

    def render(self) -> str:
        prefix = safe_id(self.id_prefix)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="portal-plot" role="img" '
                f'width="{number(self.width)}" height="{number(self.height)}" '
                f'viewBox="0 0 {number(self.width)} {number(self.height)}" '
                f'aria-labelledby="{prefix}-title {prefix}-desc">'
                f'<title id="{prefix}-title">{text_escape(self.title)}</title>'
                f'<desc id="{prefix}-desc">{text_escape(self.description)}</desc>'
                + "".join(self.parts) + "</svg>")


@dataclass(frozen=True)
class Scale:
    """A linear map of ``[low, high]`` onto ``[start, end]`` pixels."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (about ``count`` of them)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def axis_label(value: float, *, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:.3g}"


def bounds(values: Iterable[float], *, pad: float = 0.05) -> tuple[float, float]:
    data = [v for v in values if v is not None and math.isfinite(v)]
    if not data:
        return 0.0, 1.0
    low, high = min(data), max(data)
    if low == high:
        low, high = low - 0.5, high + 0.5
    span = high - low
    return low - span * pad, high + span * pad
