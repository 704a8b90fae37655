"""Reports built from what the reader may see (issue 11): the exercise report as PDF, and findings lists as CSV
and JSON.

Pure of Django models: every function takes snapshot dicts (the shape of a release snapshot, see
``evaluations.reports.base``) and a description of the reader, so a report can hold only what the caller chose
to pass, and what a reader may see is decided once, by the selector that picks the snapshots.
"""

from evaluations.reports.base import (
    REDACTION_MARKER,
    Reader,
    ReportFinding,
    ReportIntegrityError,
    snapshot_sha256,
)

__all__ = ["REDACTION_MARKER", "Reader", "ReportFinding", "ReportIntegrityError", "snapshot_sha256"]
