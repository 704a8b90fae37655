"""Matrix rows for the findings pages and the reports (issue 11 items 1, 2, 5, 6, 9): the institutes' list, detail,
forms, workflow confirmations, comments, reproduce, evidence flags on samples; the partners' landing and finding
pages (the same URLs, answering with their snapshots); the CSV/JSON downloads and the exercise report PDF (page and
API). Row format: see matrix.py. Objects: ``add_findings`` in rows_findings.py (``ctx.draft_finding``,
``ctx.review_finding``, ``ctx.signed_finding``, ``ctx.released_finding`` (released to CA), ``ctx.withdrawn_finding``,
``ctx.uk_only_finding``, ``ctx.finding_sample``, ``ctx.flag`` (uk_staff's)).

Partner viewers: ``findings/`` is their landing page, ``findings/<id>/`` the snapshot of a finding released to their
organisation, the downloads and the report hold their snapshots; every other findings page is a 404 for them. Admins
read and download, and never act (403)."""

from __future__ import annotations

from typing import Any

from tests.permissions.matrix import API_ANON, UI_ANON, Row, expect


def P(uk_staff: Any, us_staff: Any, uk_approver: Any, us_approver: Any, *, admin: Any = 403,  # noqa: N802
      partner_viewer: Any = 404, other_partner_viewer: Any = 404, anonymous: Any = UI_ANON) -> dict[str, Any]:
    return expect(anonymous=anonymous, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
                  us_approver=us_approver, admin=admin, partner_viewer=partner_viewer,
                  other_partner_viewer=other_partner_viewer)


def _pk(name: str) -> Any:
    return lambda ctx: {"pk": getattr(ctx, name).pk}


def _action(name: str, action: str) -> Any:
    return lambda ctx: {"pk": getattr(ctx, name).pk, "action": action}


def _new(ctx: Any) -> dict[str, Any]:
    return {"exercise": ctx.exercise.pk, "title": "A page's finding", "severity": "low", "risk_area": "cyber",
            "evidence_1_sample": ctx.finding_sample.pk, "evidence_1_excerpt": "It said [[this]]."}


def _edit(ctx: Any) -> dict[str, Any]:
    return {"title": "Edited on the page", "severity": "low", "risk_area": "cyber"}


ACTION = "findings/<int:pk>/<str:action>/"
EVERYONE = {"admin": 200, "partner_viewer": 200, "other_partner_viewer": 200}

ROWS: list[Any] = [
    Row(route="findings/", expect=P(200, 200, 200, 200, **EVERYONE),
        note="institutes: the list; partners: their landing page (JP: the empty state)"),
    Row(route="findings/", query=lambda ctx: "severity=high&q=finding", expect=P(200, 200, 200, 200, **EVERYONE)),
    Row(route="findings/new/", expect=P(200, 200, 200, 200), note="admins never write findings"),
    Row(route="findings/new/", method="POST", data=_new, expect=P(302, 302, 302, 302)),
    Row(route="findings/export.<str:ext>", kwargs=lambda ctx: {"ext": "csv"},
        expect=P(200, 200, 200, 200, **EVERYONE), note="what the reader may see; JP: a header row"),
    Row(route="findings/export.<str:ext>", kwargs=lambda ctx: {"ext": "json"},
        expect=P(200, 200, 200, 200, **EVERYONE)),
    Row(route="findings/export.<str:ext>", kwargs=lambda ctx: {"ext": "xlsx"},
        expect=P(404, 404, 404, 404, admin=404, partner_viewer=404, other_partner_viewer=404)),
    Row(route="findings/<int:pk>/", kwargs=_pk("released_finding"),
        expect=P(200, 200, 200, 200, admin=200, partner_viewer=200), note="CA: its snapshot"),
    Row(route="findings/<int:pk>/", kwargs=_pk("draft_finding"), expect=P(200, 200, 200, 200, admin=200)),
    Row(route="findings/<int:pk>/", kwargs=_pk("withdrawn_finding"), expect=P(200, 200, 200, 200, admin=200),
        note="withdrawn: hidden from partners"),
    Row(route="findings/<int:pk>/", kwargs=_pk("uk_only_finding"), expect=P(200, 404, 200, 404, admin=200)),
    Row(route="findings/<int:pk>/edit/", kwargs=_pk("draft_finding"), expect=P(200, 403, 200, 403),
        note="the author's institute"),
    Row(route="findings/<int:pk>/edit/", method="POST", kwargs=_pk("draft_finding"), data=_edit,
        expect=P(302, 403, 302, 403)),
    Row(route="findings/<int:pk>/comments/", method="POST", kwargs=_pk("draft_finding"),
        data=lambda ctx: {"body": "Looks right to me"}, expect=P(302, 302, 302, 302)),
    Row(route="findings/<int:pk>/evidence/<int:evidence_pk>/reproduce/", method="POST",
        kwargs=lambda ctx: {"pk": ctx.draft_finding.pk, "evidence_pk": ctx.draft_finding.evidence.get().pk},
        expect=P(302, 302, 302, 302)),
    Row(route=ACTION, kwargs=_action("draft_finding", "submit"), expect=P(200, 403, 200, 403)),
    Row(route=ACTION, method="POST", kwargs=_action("draft_finding", "submit"), expect=P(302, 403, 302, 403)),
    Row(route=ACTION, kwargs=_action("review_finding", "request-changes"), expect=P(403, 200, 200, 200),
        note="anyone taking part but the author"),
    Row(route=ACTION, method="POST", kwargs=_action("review_finding", "request-changes"),
        data=lambda ctx: {"reason": "Name the epoch."}, expect=P(403, 302, 302, 302)),
    Row(route=ACTION, kwargs=_action("review_finding", "sign-off"), expect=P(403, 403, 200, 200)),
    Row(route=ACTION, method="POST", kwargs=_action("review_finding", "sign-off"), expect=P(403, 403, 302, 302)),
    Row(route=ACTION, kwargs=_action("signed_finding", "release"), expect=P(403, 403, 200, 200)),
    Row(route=ACTION, method="POST", kwargs=_action("signed_finding", "release"),
        data=lambda ctx: {"partners": [ctx.partner.pk]}, expect=P(403, 403, 302, 302)),
    Row(route=ACTION, kwargs=_action("released_finding", "withdraw"), expect=P(403, 403, 200, 200)),
    Row(route=ACTION, method="POST", kwargs=_action("released_finding", "withdraw"), expect=P(403, 403, 302, 302)),
    Row(route=ACTION, kwargs=_action("released_finding", "delete"),
        expect=P(404, 404, 404, 404, admin=404), note="no such action"),
    Row(route="samples/<int:pk>/flag/", kwargs=_pk("finding_sample"), expect=P(200, 200, 200, 200)),
    Row(route="samples/<int:pk>/flag/", method="POST", kwargs=_pk("finding_sample"),
        data=lambda ctx: {"note": "Worth a finding"}, expect=P(302, 302, 302, 302)),
    Row(route="evidence-flags/<int:pk>/delete/", method="POST", kwargs=_pk("flag"), expect=P(302, 403, 403, 403),
        note="its author only"),
    Row(route="exercises/<int:pk>/report.pdf", kwargs=lambda ctx: {"pk": ctx.exercise.pk},
        expect=P(200, 200, 200, 200, admin=200, partner_viewer=200), note="JP is not invited"),
    Row(route="exercises/<int:pk>/report.pdf", kwargs=lambda ctx: {"pk": ctx.uk_only_exercise.pk},
        expect=P(200, 404, 200, 404, admin=200)),
    Row(route="api/v1/exercises/<int:pk>/report.pdf", kwargs=lambda ctx: {"pk": ctx.exercise.pk},
        expect=P(200, 200, 200, 200, admin=200, partner_viewer=200, anonymous=API_ANON)),
]
