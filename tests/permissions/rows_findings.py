"""Matrix rows for findings (issue 11): findings and their actions, comments, reproduce, evidence flags, releases and
risk areas (API). Row format: see matrix.py.

Objects (``add_findings``), all written by uk_staff in ``ctx.exercise`` from the samples of ``ctx.finding_run`` (a
finished run): ``ctx.draft_finding``, ``ctx.review_finding`` (in review), ``ctx.signed_finding`` (signed off by both
institutes), ``ctx.released_finding`` (released to Partner Institute CA: ``ctx.release``), ``ctx.withdrawn_finding``
(released, then withdrawn: ``ctx.withdrawn_release``), ``ctx.uk_only_finding`` (in ``ctx.uk_only_exercise``: the
US does not see it), ``ctx.flag`` (uk_staff's evidence flag on a sample) and ``ctx.risk_area``.

Partner viewers never see a finding as such: ``findings/`` lists their current snapshots and ``findings/{id}/``
answers with the snapshot of a finding released to their organisation; every other finding URL is a 404 for them,
and so are evidence flags. Admins read findings and never act on them."""

from __future__ import annotations

from typing import Any

from tests.permissions.matrix import API_ANON, Row, context_extension, expect


@context_extension
def add_findings(ctx: Any) -> None:
    from evaluations.services import findings as services
    from tests.findings.factories import finding_data, finished_run, risk_area

    uk_staff, uk_approver, us_approver = ctx.users["uk_staff"], ctx.users["uk_approver"], ctx.users["us_approver"]
    ctx.risk_area = risk_area()
    ctx.finding_run = finished_run(exercise=ctx.exercise, user=uk_staff, name="Findings run")
    ctx.finding_sample = ctx.finding_run.items.get().samples.order_by("sample_id").first()

    def finding(title: str, exercise: Any = None, run: Any = None) -> Any:
        return services.finding_create(actor=uk_staff, exercise=exercise or ctx.exercise,
                                       data=finding_data(run or ctx.finding_run, title=title))

    def signed(title: str) -> Any:
        found = services.finding_submit(actor=uk_staff, finding=finding(title))
        services.finding_sign_off(actor=uk_approver, finding=found)
        services.finding_sign_off(actor=us_approver, finding=found)
        found.refresh_from_db()
        return found

    ctx.draft_finding = finding("Draft finding")
    ctx.review_finding = services.finding_submit(actor=uk_staff, finding=finding("Finding in review"))
    ctx.signed_finding = signed("Signed-off finding")
    ctx.released_finding = signed("Released finding")
    ctx.release = services.finding_release(actor=uk_approver, finding=ctx.released_finding,
                                           partners=[ctx.partner.pk])
    ctx.withdrawn_finding = signed("Withdrawn finding")
    ctx.withdrawn_release = services.finding_release(actor=uk_approver, finding=ctx.withdrawn_finding,
                                                     partners=[ctx.partner.pk])
    services.finding_withdraw(actor=uk_approver, finding=ctx.withdrawn_finding)
    uk_only_run = finished_run(exercise=ctx.uk_only_exercise, user=uk_staff, name="UK-only findings run")
    ctx.uk_only_finding = finding("UK-only finding", exercise=ctx.uk_only_exercise, run=uk_only_run)
    ctx.flag = services.evidence_flag_create(actor=uk_staff, sample=ctx.finding_sample, note="Look at this")


def F(uk_staff: Any, us_staff: Any, uk_approver: Any, us_approver: Any, *, admin: Any = 403,  # noqa: N802
      partner_viewer: Any = 404, other_partner_viewer: Any = 404) -> dict[str, Any]:
    return expect(anonymous=API_ANON, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
                  us_approver=us_approver, admin=admin, partner_viewer=partner_viewer,
                  other_partner_viewer=other_partner_viewer)


def _pk(name: str) -> Any:
    return lambda ctx: {"pk": getattr(ctx, name).pk}


FINDINGS = "api/v1/^findings/$"
FINDING = "api/v1/^findings/(?P<pk>[^/.]+)/$"
FLAGS = "api/v1/^evidence-flags/$"
FLAG = "api/v1/^evidence-flags/(?P<pk>[^/.]+)/$"
RELEASES = "api/v1/^releases/$"
RELEASE = "api/v1/^releases/(?P<pk>[^/.]+)/$"
AREAS = "api/v1/^risk-areas/$"
AREA = "api/v1/^risk-areas/(?P<pk>[^/.]+)/$"


def action(name: str) -> str:
    return f"api/v1/^findings/(?P<pk>[^/.]+)/{name}/$"


def _new_finding(ctx: Any) -> dict[str, Any]:
    from tests.findings.factories import finding_data

    return {"exercise": ctx.exercise.pk, **finding_data(ctx.finding_run, title="New finding")}


ROWS: list[Any] = [
    # --- findings/ ----------------------------------------------------------------------------------------------
    Row(route=FINDINGS, expect=F(200, 200, 200, 200, admin=200, partner_viewer=200, other_partner_viewer=200),
        note="partners: their current snapshots (none for JP)"),
    Row(route=FINDINGS, query=lambda ctx: "format=csv",
        expect=F(200, 200, 200, 200, admin=200, partner_viewer=200, other_partner_viewer=200), note="export"),
    Row(route=FINDINGS, method="POST", data=_new_finding,
        expect=F(201, 201, 201, 201, admin=403),
        note="staff and approvers of taking-part institutes; partners 404, as findings/new/ (no finding as such)"),
    Row(route=FINDING, kwargs=_pk("released_finding"),
        expect=F(200, 200, 200, 200, admin=200, partner_viewer=200), note="released to CA: its snapshot"),
    Row(route=FINDING, kwargs=_pk("draft_finding"), expect=F(200, 200, 200, 200, admin=200),
        note="a draft: never a partner's"),
    Row(route=FINDING, kwargs=_pk("withdrawn_finding"), expect=F(200, 200, 200, 200, admin=200),
        note="withdrawn: hidden from partners"),
    Row(route=FINDING, kwargs=_pk("uk_only_finding"), expect=F(200, 404, 200, 404, admin=200),
        note="an exercise the US does not take part in"),
    Row(route=FINDING, method="PATCH", kwargs=_pk("draft_finding"), data=lambda ctx: {"title": "Edited"},
        expect=F(200, 403, 200, 403), note="the author's institute edits"),
    Row(route=FINDING, method="PATCH", kwargs=_pk("released_finding"), data=lambda ctx: {"title": "Edited"},
        expect=F(200, 403, 200, 403),
        note="partners read its snapshot, yet a write is a 404 for them: they never see the finding as such"),
    Row(route=FINDING, method="PUT", kwargs=_pk("draft_finding"), data=lambda ctx: {"title": "Edited"},
        expect=F(200, 403, 200, 403)),
    Row(route=action("submit"), method="POST", kwargs=_pk("draft_finding"), data=lambda ctx: {},
        expect=F(200, 403, 200, 403)),
    Row(route=action("request-changes"), method="POST", kwargs=_pk("review_finding"),
        data=lambda ctx: {"reason": "Name the version."}, expect=F(403, 200, 200, 200),
        note="anyone taking part but the author"),
    Row(route=action("sign-off"), method="POST", kwargs=_pk("review_finding"), data=lambda ctx: {},
        expect=F(403, 403, 200, 200), note="approvers, never the author"),
    Row(route=action("release"), method="POST", kwargs=_pk("signed_finding"),
        data=lambda ctx: {"partners": [ctx.partner.pk]}, expect=F(403, 403, 200, 200)),
    Row(route=action("withdraw"), method="POST", kwargs=_pk("released_finding"), data=lambda ctx: {},
        expect=F(403, 403, 200, 200)),
    Row(route=action("comments"), kwargs=_pk("draft_finding"), expect=F(200, 200, 200, 200, admin=200),
        note="internal: never a partner's"),
    Row(route=action("comments"), method="POST", kwargs=_pk("draft_finding"),
        data=lambda ctx: {"body": "@us.staff have a look"}, expect=F(201, 201, 201, 201)),
    Row(route=action("reproduce"), method="POST", kwargs=_pk("draft_finding"),
        data=lambda ctx: {"evidence": ctx.draft_finding.evidence.get().pk}, expect=F(201, 201, 201, 201),
        note="a draft run, as run creation allows"),
    # --- evidence-flags/ --------------------------------------------------------------------------------------
    Row(route=FLAGS, expect=F(200, 200, 200, 200, admin=200)),
    Row(route=FLAGS, method="POST", data=lambda ctx: {"sample": ctx.finding_sample.pk, "note": "Suspicious"},
        expect=F(201, 201, 201, 201)),
    Row(route=FLAG, kwargs=_pk("flag"), expect=F(200, 200, 200, 200, admin=200)),
    Row(route=FLAG, method="DELETE", kwargs=_pk("flag"), expect=F(204, 403, 403, 403), note="its author only"),
    # --- releases/ ---------------------------------------------------------------------------------------------
    Row(route=RELEASES, expect=F(200, 200, 200, 200, admin=200, partner_viewer=200, other_partner_viewer=200)),
    Row(route=RELEASE, kwargs=_pk("release"), expect=F(200, 200, 200, 200, admin=200, partner_viewer=200)),
    Row(route=RELEASE, kwargs=_pk("withdrawn_release"), expect=F(200, 200, 200, 200, admin=200),
        note="withdrawn: kept for the record, hidden from partners"),
    # --- risk-areas/ -------------------------------------------------------------------------------------------
    Row(route=AREAS, expect=F(200, 200, 200, 200, admin=200, partner_viewer=200, other_partner_viewer=200)),
    Row(route=AREAS, method="POST", data=lambda ctx: {"slug": "new-area", "name": "New area"},
        expect=F(403, 403, 403, 403, admin=201, partner_viewer=403, other_partner_viewer=403), note="admins"),
    Row(route=AREA, kwargs=_pk("risk_area"),
        expect=F(200, 200, 200, 200, admin=200, partner_viewer=200, other_partner_viewer=200)),
    Row(route=AREA, method="PATCH", kwargs=_pk("risk_area"), data=lambda ctx: {"name": "Cyber security"},
        expect=F(403, 403, 403, 403, admin=200, partner_viewer=403, other_partner_viewer=403)),
]
