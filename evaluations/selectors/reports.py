"""Reads for reports (the exercise PDF, the CSV and JSON downloads of the page and of the API): the findings a reader may see, as snapshot
dicts for ``evaluations.reports``.

A partner viewer's entries are their current release snapshots (``partner_current_releases``: the stored JSON and
its stored SHA-256, nothing read from a Finding row). An institute member's are the current text of the findings
they see (``finding_list``), built into the snapshot shape by the same function that builds a release, so
redaction is applied the same way and nothing outside the snapshot schema (comments, flag notes, e-mail addresses,
base URLs) can reach a report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from accounts.access import get_visible_or_404, is_institute_member, is_partner_viewer
from evaluations.models import Exercise, Release
from evaluations.reports import Reader, ReportFinding
from evaluations.selectors.comparisons import exercise_results
from evaluations.selectors.findings import (
    SNAPSHOT_PREFETCH,
    finding_list,
    finding_snapshot_build,
    partner_current_releases,
    partner_filters,
)

EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def findings_export(*, user: Any, filters: Mapping[str, Any], ext: str) -> tuple[str, str]:
    """The findings list the user may see as a download: (text, content type), ``ext`` "csv" or "json". The one
    definition of the export's columns and rows (``evaluations.reports.csv``: ``findings_csv``, ``jsonexport``): the
    findings page's downloads (``findings/export.csv``) and the API's (``findings/?format=csv``) both answer with
    it, for partners and institute members alike."""
    from evaluations.reports.csv import findings_csv
    from evaluations.reports.jsonexport import findings_json

    entries = report_findings(user=user, filters=filters)
    reader = report_reader(user=user)
    render = findings_csv if ext == "csv" else findings_json
    return render(findings=entries, reader=reader), EXPORT_TYPES[ext]


def report_reader(*, user: Any) -> Reader:
    organisation = user.organisation.name if user.organisation_id else ""
    return Reader(name=user.full_name or user.email, organisation=organisation, is_partner=is_partner_viewer(user))


def report_exercise(*, user: Any, pk: Any) -> Exercise:
    """The exercise a report is asked for; 404 for anyone who may not see it."""
    return get_visible_or_404(user, Exercise.objects.all(), pk=pk)


def exercise_report(*, user: Any, pk: Any) -> tuple[bytes, str]:
    """The exercise report PDF as ``user`` may see it, and its file name; 404 for an exercise they may not see."""
    from evaluations.reports.pdf import exercise_report_pdf

    exercise = report_exercise(user=user, pk=pk)
    # Results (issue 13): staff only; a partner's report holds their release snapshots and nothing else.
    results = exercise_results(user=user, exercise=exercise) if is_institute_member(user) else []
    pdf = exercise_report_pdf(exercise={"id": exercise.pk, "name": exercise.name}, reader=report_reader(user=user),
                              findings=report_findings(user=user, filters={"exercise": exercise.pk}),
                              results=results)
    return pdf, f"exercise-{exercise.pk}-report.pdf"


def report_findings(*, user: Any, filters: Mapping[str, Any] | None = None) -> list[ReportFinding]:
    """The findings the user may see (``filters`` as ``finding_filters_clean`` returns them) as report entries."""
    filters = dict(filters or {})
    if is_partner_viewer(user):
        releases = partner_current_releases(user=user, **partner_filters(filters))
        return [ReportFinding(snapshot=release.snapshot, sha256=release.sha256) for release in releases]
    if not is_institute_member(user):
        return []
    entries = []
    for finding in finding_list(user=user, **filters).prefetch_related("releases__partners", *SNAPSHOT_PREFETCH):
        live = [r for r in finding.releases.all() if r.withdrawn_at is None]
        newest: Release | None = max(live, key=lambda r: r.version, default=None)
        snapshot = finding_snapshot_build(finding=finding, version=newest.version if newest else 0,
                                          partners=list(newest.partners.all()) if newest else [],
                                          released_at=newest.released_at if newest else timezone.now())
        if newest is None:
            snapshot["version"] = None
            snapshot["released_at"] = None
        entries.append(ReportFinding(snapshot=snapshot, state=finding.state))
    return entries
