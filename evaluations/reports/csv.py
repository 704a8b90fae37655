"""Findings lists as CSV: one row per finding, from the snapshots the reader may see.

A cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) is neutralised with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from evaluations.reports.base import Reader, ReportFinding, finding_views, versioned_label
from evaluations.reports.tables import csv_cell

neutralise_cell = csv_cell  # the one rule for formula cells (evaluations/reports/tables.py)


def _columns(reader: Reader) -> list[tuple[str, str]]:
    columns = [
        ("finding", "Finding"), ("version", "Version"), ("exercise", "Exercise"), ("title", "Title"),
        ("severity", "Severity"), ("risk_area", "Risk area"), ("models", "Models"), ("evaluations", "Evaluations"),
        ("evidence_items", "Evidence items"), ("released_at", "Released at"), ("summary", "Summary"),
    ]
    if reader.is_partner:
        columns.append(("sha256", "SHA-256"))
    else:
        columns.insert(5, ("state", "State"))
    return columns


def finding_rows(*, findings: Iterable[ReportFinding], reader: Reader) -> list[dict[str, Any]]:
    """One flat row per finding (keys as in the CSV header's order)."""
    rows = []
    for view in finding_views(findings, reader=reader):
        row = {
            "finding": view["finding"], "version": view["version"], "exercise": view["exercise"]["name"],
            "title": view["title"], "severity": view["severity_label"], "risk_area": view["risk_area"]["name"],
            "models": "; ".join(versioned_label(m) for m in view["models"]),
            "evaluations": "; ".join(versioned_label(e) for e in view["evaluations"]),
            "evidence_items": len(view["evidence"]), "released_at": view["released_at"],
            "summary": view["summary"],
        }
        if reader.is_partner:
            row["sha256"] = view["sha256"]
        else:
            row["state"] = view["state"]
        rows.append({key: row[key] for key, _ in _columns(reader)})
    return rows


def findings_csv(*, findings: Iterable[ReportFinding], reader: Reader) -> str:
    """The CSV text (header row first); every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = _columns(reader)
    writer.writerow([label for _, label in columns])
    for row in finding_rows(findings=findings, reader=reader):
        writer.writerow([neutralise_cell(row[key]) for key, _ in columns])
    return out.getvalue()
