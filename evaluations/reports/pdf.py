"""The exercise report as PDF (WeasyPrint): a title page (exercise, date, who it is for), a summary table by
severity and risk area, then each finding with its summary (safe HTML), evidence excerpts (the redaction marker
shown as a black box) and results with their intervals. A partner's report states each snapshot's release
version and SHA-256.

Nothing is fetched while rendering: WeasyPrint gets ``LocalStaticFetcher``, which refuses every URL except files
under ``static/reports/`` (the report's stylesheet). Fonts are the system's (Debian's DejaVu, through
fontconfig).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from evaluations.reports.base import (
    REDACTION_MARKER,
    Reader,
    ReportFinding,
    finding_views,
    severity_table,
    versioned_label,
)
from portal.markdown import markdown_to_safe_html

TEMPLATE = "evaluations/reports/exercise_report.html"
STYLESHEET = "report.css"
STATE_LABELS = {"draft": "Draft", "in_review": "In review", "signed_off": "Signed off", "released": "Released"}


def static_reports_dir() -> Path:
    return (Path(settings.BASE_DIR) / "static" / "reports").resolve()


def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalStaticFetcher(URLFetcher):  # type: ignore[misc]
        """Refuses every URL (http, https, data, ftp, other files...) but the files under ``roots``."""

        def __init__(self, roots: Sequence[Path]) -> None:
            super().__init__(allowed_protocols=("file",), allow_redirects=False, timeout=1)
            self.roots = [Path(root).resolve() for root in roots]
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
            parts = urlsplit(url)
            path = Path(url2pathname(parts.path)).resolve() if parts.scheme.lower() == "file" else None
            if (path is None or parts.netloc not in {"", "localhost"} or not path.is_file()
                    or not any(path.is_relative_to(root) for root in self.roots)):
                self.refused.append(url[:200])
                raise ValueError(f"the report fetches no URL but its own static files: {url[:200]}")
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type})

    return LocalStaticFetcher


def local_static_fetcher(roots: Sequence[Path] | None = None) -> Any:
    """A WeasyPrint URL fetcher that only reads files under ``roots`` (default: ``static/reports/``)."""
    return _fetcher_class()(roots if roots is not None else [static_reports_dir()])


def html_to_pdf(html: str, *, fetcher: Any | None = None) -> bytes:
    """Any report HTML as PDF bytes, with relative URLs resolved in ``static/reports/`` and every fetch through
    the local-only fetcher."""
    from weasyprint import HTML

    fetcher = fetcher if fetcher is not None else local_static_fetcher()
    document = HTML(string=html, base_url=static_reports_dir().as_uri() + "/", url_fetcher=fetcher)
    return bytes(document.write_pdf())


# WeasyPrint lays out a long unbroken word slowly (seconds for 20,000 characters): give such runs a break
# opportunity (a zero-width space) every WORD_BREAK_EVERY characters. Runs stop at "&" and ";" so that no
# character reference is split.
WORD_BREAK_EVERY = 60
_LONG_RUN = re.compile(rf"[^\s<>&;]{{{WORD_BREAK_EVERY + 1},}}")
_TEXT_NODE = re.compile(r">[^<]+")


def _break_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return "\u200b".join(run[i:i + WORD_BREAK_EVERY] for i in range(0, len(run), WORD_BREAK_EVERY))


def soften_long_words(html: str) -> str:
    """HTML with break opportunities in long unbroken runs of its text (never inside a tag)."""
    return _TEXT_NODE.sub(lambda m: _LONG_RUN.sub(_break_run, m.group(0)), html)


def excerpt_html(excerpt: str) -> SafeString:
    """The excerpt escaped, each redaction marker as a visible black box."""
    marker = f'<span class="redacted">{escape(REDACTION_MARKER)}</span>'
    return mark_safe(marker.join(str(escape(part)) for part in excerpt.split(REDACTION_MARKER)))  # noqa: S308  # nosemgrep: portal-mark-safe - each part escaped, the marker is ours


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def format_moment(value: str) -> str:
    """An ISO 8601 time as "1 December 2026, 09:00 UTC" (the text as it is when it is not one)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y}, {moment:%H:%M} UTC"


def _result_rows(view: Mapping[str, Any]) -> list[dict[str, str]]:
    rows = []
    for result in view["results"]:
        names = list(result["metrics"]) + [n for n in result["intervals"] if n not in result["metrics"]]
        for name in names:
            interval = result["intervals"].get(name)
            rows.append({
                "model": versioned_label(result["model"]),
                "evaluation": versioned_label(result["evaluation"]),
                "metric": name,
                "value": _format_number(result["metrics"].get(name)) or "–",
                "interval": (f"{_format_number(interval[0])} to {_format_number(interval[1])}"
                             if interval else "Not recorded"),
                "samples": _format_number(result["samples"]) or "–",
            })
    return rows


def _template_finding(view: dict[str, Any]) -> dict[str, Any]:
    finding = dict(view)
    finding["models"] = [{"label": versioned_label(m)} for m in view["models"]]
    finding["evaluations"] = [{"label": versioned_label(e)} for e in view["evaluations"]]
    finding["summary_html"] = mark_safe(markdown_to_safe_html(view["summary"]))  # noqa: S308  # nosemgrep: portal-mark-safe - sanitised by nh3
    finding["evidence"] = [
        {**item, "model": {"label": versioned_label(item["model"])},
         "evaluation": {"label": versioned_label(item["evaluation"])}, "excerpt_html": excerpt_html(item["excerpt"])}
        for item in view["evidence"]
    ]
    finding["result_rows"] = _result_rows(view)
    finding["released_at"] = format_moment(view["released_at"]) if view["released_at"] else ""
    finding["state_label"] = STATE_LABELS.get(view.get("state", ""), view.get("state", ""))
    return finding


def _template_results(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per evaluation: its score bars (inline SVG, every text escaped by ``plots/svg.py``) and their data rows."""
    from evaluations.plots.scores import Bar, score_bars

    out = []
    for index, group in enumerate(results):
        points = bool(group.get("points"))
        bars = [Bar(label=str(row["model"]), mean=row["mean"], low=row["ci"][0] if row["ci"] else None,
                    high=row["ci"][1] if row["ci"] else None, n=row["n"]) for row in group["rows"]]

        def fmt(value: Any, points: bool = points) -> str:
            if value is None:
                return "–"
            return f"{value * 100:.1f}%" if points else f"{value:.3g}"

        out.append({
            "evaluation": group["evaluation"], "cluster": group.get("cluster") or "",
            "svg": mark_safe(score_bars(bars, title=f"Mean score by model: {group['evaluation']}",  # noqa: S308  # nosemgrep: portal-mark-safe - SVG of evaluations/plots, which escapes every text
                                        id_prefix=f"report-bars-{index}", percent=points, width=640)),
            "rows": [{"model": row["model"], "provider_model": row.get("provider_model", ""), "n": row["n"],
                      "mean": fmt(row["mean"]),
                      "interval": f"{fmt(row['ci'][0])} to {fmt(row['ci'][1])}" if row["ci"] else "–"}
                     for row in group["rows"]],
        })
    return out


def exercise_report_html(*, exercise: Mapping[str, Any], reader: Reader, findings: Iterable[ReportFinding],
                         generated_at: datetime | None = None,
                         results: Sequence[Mapping[str, Any]] = ()) -> str:
    """The report as HTML (what ``exercise_report_pdf`` renders). ``results``: per evaluation, each model's mean
    score and interval (``selectors.comparisons.exercise_results``), shown to institute readers only: a partner's
    report never has them, whatever is passed."""
    from evaluations.reports.base import NAME_MAX_CHARS, clean_text

    views = finding_views(findings, reader=reader)
    moment = (generated_at or datetime.now(UTC)).astimezone(UTC)
    context = {
        "exercise": {"name": clean_text(exercise.get("name"), NAME_MAX_CHARS)},
        "reader": {"name": clean_text(reader.name, NAME_MAX_CHARS),
                   "organisation": clean_text(reader.organisation, NAME_MAX_CHARS),
                   "is_partner": reader.is_partner},
        "generated_date": format_moment(moment.isoformat()),
        "generated_iso": moment.isoformat(),
        "findings": [_template_finding(view) for view in views],
        "table": severity_table(views),
        "marker": REDACTION_MARKER,
        "stylesheet_url": (static_reports_dir() / STYLESHEET).as_uri(),
        "results": [] if reader.is_partner else _template_results(results),
    }
    return soften_long_words(render_to_string(TEMPLATE, context))


def exercise_report_pdf(*, exercise: Mapping[str, Any], reader: Reader, findings: Iterable[ReportFinding],
                        generated_at: datetime | None = None,
                        results: Sequence[Mapping[str, Any]] = ()) -> bytes:
    """The exercise report as PDF bytes, holding exactly the findings given (as ``finding_view`` reads them)."""
    return html_to_pdf(exercise_report_html(exercise=exercise, reader=reader, findings=findings,
                                            generated_at=generated_at, results=results))
