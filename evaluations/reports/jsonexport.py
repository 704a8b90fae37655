"""Findings lists as JSON: each finding as the reader may see it (the snapshot's own fields, read through
``finding_view``), with its release's SHA-256 for partners or its state for institute staff."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from evaluations.reports.base import Reader, ReportFinding, finding_views

EXPORT_SCHEMA = 1


def findings_document(*, findings: Iterable[ReportFinding], reader: Reader,
                      generated_at: datetime | None = None) -> dict[str, Any]:
    findings_out = []
    for view in finding_views(findings, reader=reader):
        view = dict(view)
        view.pop("severity_label", None)
        findings_out.append(view)
    moment = (generated_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "schema": EXPORT_SCHEMA,
        "generated_at": moment.isoformat().replace("+00:00", "Z"),
        "reader": {"organisation": reader.organisation},
        "findings": findings_out,
    }


def findings_json(*, findings: Iterable[ReportFinding], reader: Reader,
                  generated_at: datetime | None = None) -> str:
    return json.dumps(findings_document(findings=findings, reader=reader, generated_at=generated_at),
                      ensure_ascii=False, indent=2)
