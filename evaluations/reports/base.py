"""What every report shares: the reader, the findings given, and the one reading of a snapshot.

A snapshot is the dict a release stores (docs: the findings contract, ``"schema": 1``). ``finding_view`` reads
only the keys that schema names, as plain strings and numbers with control characters removed: a key the
schema does not name never reaches a PDF, a CSV or a JSON export, whatever else the dict holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluations.snapshots import REDACTION_MARKER, canonical_json, snapshot_sha256
from portal.markdown import strip_control_characters

__all__ = ["REDACTION_MARKER", "Reader", "ReportFinding", "ReportIntegrityError", "canonical_json", "finding_view",
           "finding_views", "severity_table", "snapshot_sha256"]

# Most serious first: the order of tables and of findings in a report.
SEVERITIES: tuple[tuple[str, str], ...] = (
    ("critical", "Critical"),
    ("high", "High"),
    ("medium", "Medium"),
    ("low", "Low"),
    ("informational", "Informational"),
)
SEVERITY_LABELS = dict(SEVERITIES)
SEVERITY_RANK = {slug: rank for rank, (slug, _) in enumerate(SEVERITIES)}

TITLE_MAX_CHARS = 500
NAME_MAX_CHARS = 300
EXCERPT_MAX_CHARS = 20_000
SHORTENED = " [shortened]"


class ReportIntegrityError(ValueError):
    """A release's stored SHA-256 does not match the snapshot given with it: the report is not built."""


@dataclass(frozen=True)
class Reader:
    """Who a report is for: named on its title page. A partner's report states each snapshot's version and
    SHA-256; an institute's says that it may hold findings not released to anyone."""

    name: str
    organisation: str
    is_partner: bool


@dataclass(frozen=True)
class ReportFinding:
    """One finding as the reader may see it: a snapshot dict, with the stored SHA-256 of its release (partners)
    or the finding's current state (institute staff reading unreleased work)."""

    snapshot: Mapping[str, Any]
    sha256: str = ""
    state: str = ""


def clean_text(value: Any, limit: int | None = None) -> str:
    text = strip_control_characters("" if value is None else str(value))
    if limit is not None and len(text) > limit:
        text = text[:limit] + SHORTENED
    return text


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _number(value: Any) -> float | int | str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return clean_text(value, NAME_MAX_CHARS)


def _versioned(value: Any) -> dict[str, Any]:
    value = _mapping(value)
    return {"name": clean_text(value.get("name"), NAME_MAX_CHARS), "version": _int_or_none(value.get("version"))}


def versioned_label(value: Mapping[str, Any]) -> str:
    version = value.get("version")
    return f"{value['name']} (version {version})" if version is not None else str(value["name"])


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _interval(value: Any) -> list[float | int] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = (_number(v) for v in value)
        if isinstance(low, int | float) and isinstance(high, int | float):
            return [low, high]
    return None


def _results(value: Any) -> list[dict[str, Any]]:
    results = []
    for row in _list(value):
        if not isinstance(row, Mapping):
            continue
        metrics = _mapping(row.get("metrics"))
        intervals = _mapping(row.get("intervals"))
        results.append({
            "model": _versioned(row.get("model")),
            "evaluation": _versioned(row.get("evaluation")),
            "metrics": {clean_text(name, NAME_MAX_CHARS): _number(metric) for name, metric in sorted(metrics.items())},
            "intervals": {clean_text(name, NAME_MAX_CHARS): interval for name, raw in sorted(intervals.items())
                          if (interval := _interval(raw)) is not None},
            "samples": _int_or_none(row.get("samples")),
        })
    return results


def _evidence(value: Any) -> list[dict[str, Any]]:
    items = []
    for item in _list(value):
        if not isinstance(item, Mapping):
            continue
        items.append({
            "position": _int_or_none(item.get("position")),
            "model": _versioned(item.get("model")),
            "evaluation": _versioned(item.get("evaluation")),
            "sample_id": clean_text(item.get("sample_id"), NAME_MAX_CHARS),
            "epoch": _int_or_none(item.get("epoch")),
            "excerpt": clean_text(item.get("excerpt"), EXCERPT_MAX_CHARS),
        })
    return sorted(items, key=lambda i: (i["position"] is None, i["position"] or 0))


def finding_view(entry: ReportFinding, *, reader: Reader) -> dict[str, Any]:
    """The fields of one finding a report may show, read from its snapshot and nothing else.

    Raises ``ReportIntegrityError`` when a SHA-256 is given that the snapshot does not match."""
    snapshot = entry.snapshot
    if entry.sha256 and snapshot_sha256(snapshot) != entry.sha256:
        raise ReportIntegrityError(f"finding {snapshot.get('finding')!r} version {snapshot.get('version')!r}: "
                                   "the stored SHA-256 does not match the snapshot")
    exercise = _mapping(snapshot.get("exercise"))
    risk_area = _mapping(snapshot.get("risk_area"))
    severity = clean_text(snapshot.get("severity"), NAME_MAX_CHARS)
    view: dict[str, Any] = {
        "finding": _int_or_none(snapshot.get("finding")),
        "version": _int_or_none(snapshot.get("version")),
        "exercise": {"id": _int_or_none(exercise.get("id")), "name": clean_text(exercise.get("name"), NAME_MAX_CHARS)},
        "title": clean_text(snapshot.get("title"), TITLE_MAX_CHARS),
        "summary": clean_text(snapshot.get("summary")),
        "severity": severity,
        "severity_label": SEVERITY_LABELS.get(severity, severity.capitalize()),
        "risk_area": {"slug": clean_text(risk_area.get("slug"), NAME_MAX_CHARS),
                      "name": clean_text(risk_area.get("name"), NAME_MAX_CHARS)},
        "models": [_versioned(m) for m in _list(snapshot.get("models"))],
        "evaluations": [_versioned(e) for e in _list(snapshot.get("evaluations"))],
        "evidence": _evidence(snapshot.get("evidence")),
        "results": _results(snapshot.get("results")),
        "released_at": clean_text(snapshot.get("released_at"), NAME_MAX_CHARS),
        "sha256": clean_text(entry.sha256, 64) if entry.sha256 else "",
    }
    if not reader.is_partner:
        view["state"] = clean_text(entry.state, NAME_MAX_CHARS)
        view["partners"] = [clean_text(p, NAME_MAX_CHARS) for p in _list(snapshot.get("partners"))]
    return view


def finding_views(findings: Iterable[ReportFinding], *, reader: Reader) -> list[dict[str, Any]]:
    """Every finding's view, most serious first, then by title and id."""
    views = [finding_view(entry, reader=reader) for entry in findings]
    return sorted(views, key=lambda v: (SEVERITY_RANK.get(v["severity"], len(SEVERITY_RANK)),
                                        v["title"].lower(), v["finding"] or 0))


def severity_table(views: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts by severity (rows, most serious first) and risk area (columns, by name), with totals."""
    areas = sorted({v["risk_area"]["name"] for v in views}, key=str.lower)
    slugs = [slug for slug, _ in SEVERITIES]
    slugs += sorted({v["severity"] for v in views} - set(slugs))
    rows: list[dict[str, Any]] = []
    for slug in slugs:
        counts = [sum(1 for v in views if v["severity"] == slug and v["risk_area"]["name"] == area) for area in areas]
        rows.append({"label": SEVERITY_LABELS.get(slug, slug.capitalize()), "counts": counts, "total": sum(counts)})
    totals = [sum(row["counts"][i] for row in rows) for i in range(len(areas))]
    return {"areas": areas, "rows": rows, "totals": totals, "total": len(views)}
