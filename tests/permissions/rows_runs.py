"""Matrix rows for runs (issue 6): run pages, actions, samples, logs and Inspect's viewer, notifications, and the
runs API. Row format: see matrix.py. Replaces the runs branch's own table (tests/runs/test_run_permissions.py,
every row ported), plus runs in the other states an action depends on and the writes it did not send.

Objects (``add_runs``), all created by uk_staff in ``ctx.exercise`` unless said otherwise:
``ctx.run`` (submitted; one item ``ctx.item`` with a log file and a sample ``ctx.sample``), ``ctx.draft_run``,
``ctx.failed_run`` (its one item failed), ``ctx.uk_only_run`` (a draft in ``ctx.uk_only_exercise``: the US does not
see it) and ``ctx.notification`` (uk_staff's). Partner viewers get 404 from every runs page and endpoint, lists and "new"
pages included (accounts/gates.py), as in the registry and catalogue."""

from __future__ import annotations

from typing import Any

from tests.permissions.matrix import API_ANON, UI_ANON, Row, context_extension, expect


@context_extension
def add_runs(ctx: Any) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from evaluations.models import Notification, Run, RunItem, SampleResult
    from evaluations.services.runs import run_create, run_submit
    from tests.support.factories import model_version, task_version

    uk_staff = ctx.users["uk_staff"]

    def new_run(exercise: Any, name: str) -> Run:
        model = model_version(exercise=exercise, user=uk_staff, name=f"{name} model")
        task = task_version(exercise=exercise, user=uk_staff, name=f"{name} task", args={"samples": 3})
        return run_create(actor=uk_staff, exercise=exercise, models=[model], tasks=[task],
                          options={"name": name, "limit": 3})

    ctx.run = run_submit(actor=uk_staff, run=new_run(ctx.exercise, "Submitted run"))
    ctx.item = ctx.run.items.get()
    log_path = default_storage.save("run-logs/matrix/log.eval", ContentFile(b"PK\x05\x06" + b"\0" * 18))
    RunItem.objects.filter(pk=ctx.item.pk).update(log_path=log_path)
    ctx.item.refresh_from_db()
    ctx.sample = SampleResult.objects.create(
        item=ctx.item, sample_id="1", epoch=1, input_text="What is 1 + 1?", target="2", output="2",
        scores={"match": "C"}, score=1.0, messages=[{"role": "user", "content": "What is 1 + 1?"},
                                                    {"role": "assistant", "content": "2"}])
    ctx.draft_run = new_run(ctx.exercise, "Draft run")
    ctx.failed_run = run_submit(actor=uk_staff, run=new_run(ctx.exercise, "Failed run"))
    RunItem.objects.filter(run=ctx.failed_run).update(state="failed", error="boom")
    Run.objects.filter(pk=ctx.failed_run.pk).update(state="failed")
    ctx.uk_only_run = new_run(ctx.uk_only_exercise, "UK-only run")
    ctx.notification = Notification.objects.create(user=uk_staff, run=ctx.run, kind=Notification.Kind.choices[0][0],
                                                   text="Your run was submitted.")


def E(uk_staff: int, us_staff: int, uk_approver: int, us_approver: int, *, admin: int = 403,  # noqa: N802
      partners: int = 404, anonymous: int = UI_ANON) -> dict[str, Any]:
    """An action on a run of ``ctx.exercise`` created by uk_staff; admins read runs but never act on them."""
    return expect(anonymous=anonymous, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
                  us_approver=us_approver, admin=admin, partner_viewer=partners, other_partner_viewer=partners)


def V(status: int, *, partners: int = 404, anonymous: int = UI_ANON) -> dict[str, Any]:  # noqa: N802
    """Read by every institute member (the exercise's institutes, and the admin); not by partners."""
    return E(status, status, status, status, admin=status, partners=partners, anonymous=anonymous)


def EA(uk_staff: int, us_staff: int, uk_approver: int, us_approver: int, **kw: Any) -> dict[str, Any]:  # noqa: N802
    return E(uk_staff, us_staff, uk_approver, us_approver, anonymous=API_ANON, **kw)


def VA(status: int, *, partners: int = 404) -> dict[str, Any]:  # noqa: N802
    return V(status, partners=partners, anonymous=API_ANON)


def _pk(name: str) -> Any:
    return lambda ctx: {"pk": getattr(ctx, name).pk}


def _action(name: str, action: str) -> Any:
    return lambda ctx: {"pk": getattr(ctx, name).pk, "action": action}


RUN, DRAFT, FAILED, UK_ONLY = _pk("run"), _pk("draft_run"), _pk("failed_run"), _pk("uk_only_run")
ITEM, SAMPLE = _pk("item"), _pk("sample")
ACTION = "runs/<int:pk>/<str:action>/"
API_RUN = "api/v1/^runs/(?P<pk>[^/.]+)/$"


def api_action(action: str) -> str:
    return f"api/v1/^runs/(?P<pk>[^/.]+)/{action}/$"


ROWS: list[Any] = [
    # --- Pages ----------------------------------------------------------------------------------------------
    Row(route="runs/", expect=V(200), note="partners: 404, the runs area does not exist for them"),
    Row(route="runs/new/", expect=E(200, 200, 200, 200)),
    Row(route="runs/new/", method="POST", data=lambda ctx: {}, expect=E(200, 200, 200, 200),
        note="empty form: errors"),
    Row(route="runs/import/", expect=E(200, 200, 200, 200)),
    Row(route="runs/import/", method="POST", data=lambda ctx: {}, expect=E(200, 200, 200, 200),
        note="no file: errors"),
    Row(route="runs/compare/", query=lambda ctx: f"items={ctx.item.pk}", expect=V(200)),
    Row(route="runs/compare/export/", query=lambda ctx: f"items={ctx.item.pk}&format=csv", expect=V(200),
        note="the comparison as CSV (format=json: JSON)"),
    Row(route="runs/<int:pk>/", kwargs=RUN, expect=V(200)),
    Row(route="runs/<int:pk>/", kwargs=UK_ONLY, expect=E(200, 404, 200, 404, admin=200),
        note="US not in the exercise"),
    Row(route="runs/<int:pk>/edit/", kwargs=RUN, expect=E(200, 403, 403, 403),
        note="own run, while draft or submitted (an edit voids approvals)"),
    Row(route="runs/<int:pk>/edit/", kwargs=DRAFT, expect=E(200, 403, 403, 403)),
    Row(route="runs/<int:pk>/edit/", kwargs=FAILED, expect=E(403, 403, 403, 403), note="no edits after execution"),
    Row(route="runs/<int:pk>/edit/", method="POST", kwargs=DRAFT, data=lambda ctx: {},
        expect=E(200, 403, 403, 403), note="empty form: errors for the owner"),
    Row(route="runs/<int:pk>/items/", kwargs=RUN, expect=V(200)),
    Row(route="runs/<int:pk>/samples/", kwargs=RUN, expect=V(200)),
    Row(route=ACTION, kwargs=_action("run", "approve"), expect=E(403, 403, 200, 200),
        note="approvers, not of a run they submitted"),
    Row(route=ACTION, method="POST", kwargs=_action("run", "approve"), expect=E(403, 403, 302, 302)),
    Row(route=ACTION, kwargs=_action("run", "reject"), expect=E(403, 403, 200, 200)),
    Row(route=ACTION, method="POST", kwargs=_action("run", "reject"), data=lambda ctx: {"reason": "Out of scope"},
        expect=E(403, 403, 302, 302)),
    Row(route=ACTION, method="POST", kwargs=_action("run", "cancel"), expect=E(302, 403, 302, 302),
        note="own run, or any approver of the exercise"),
    Row(route=ACTION, kwargs=_action("run", "submit"), expect=E(200, 403, 403, 403)),
    Row(route=ACTION, method="POST", kwargs=_action("draft_run", "submit"), expect=E(302, 403, 403, 403)),
    Row(route=ACTION, kwargs=_action("run", "retry"), expect=E(200, 403, 200, 200)),
    Row(route=ACTION, method="POST", kwargs=_action("failed_run", "retry"), expect=E(302, 403, 302, 302)),
    Row(route=ACTION, kwargs=_action("run", "delete"), expect=E(404, 404, 404, 404, admin=404),
        note="no such action"),
    Row(route="samples/<int:pk>/", kwargs=SAMPLE, expect=V(200)),
    Row(route="notifications/", expect=V(200, partners=200), note="one's own notices (partners: releases)"),
    Row(route="notifications/", method="POST", expect=V(302, partners=302), note="marks one's own notices read"),
    Row(route="run-items/<int:pk>/log.<str:ext>", kwargs=lambda ctx: {"pk": ctx.item.pk, "ext": "eval"},
        expect=V(200)),
    Row(route="run-items/<int:pk>/viewer/", kwargs=ITEM, expect=V(200), note="portal page framing Inspect's viewer"),
    Row(route="run-items/<int:pk>/viewer/<path:path>", kwargs=lambda ctx: {"pk": ctx.item.pk,
                                                                           "path": "assets/index.css"},
        expect=V(200)),

    # --- API ------------------------------------------------------------------------------------------------
    Row(route="api/v1/^runs/$", expect=VA(200)),
    Row(route="api/v1/^runs/$", method="POST", data=lambda ctx: {}, expect=EA(400, 400, 400, 400),
        note="empty body: 400 for those who may create"),
    Row(route="api/v1/^runs/import/$", method="POST", data=lambda ctx: {}, multipart=True,
        expect=EA(400, 400, 400, 400), note="no file: 400 for those who may import"),
    Row(route=API_RUN, kwargs=RUN, expect=VA(200)),
    Row(route=API_RUN, kwargs=UK_ONLY, expect=EA(200, 404, 200, 404, admin=200), note="US not in the exercise"),
    Row(route=API_RUN, method="PATCH", kwargs=RUN, data=lambda ctx: {}, expect=EA(200, 403, 403, 403)),
    Row(route=api_action("approve"), method="POST", kwargs=RUN, data=lambda ctx: {}, expect=EA(403, 403, 200, 200)),
    Row(route=api_action("reject"), method="POST", kwargs=RUN, data=lambda ctx: {}, expect=EA(403, 403, 400, 400),
        note="no reason: 400 for approvers"),
    Row(route=api_action("reject"), method="POST", kwargs=RUN, data=lambda ctx: {"reason": "Out of scope"},
        expect=EA(403, 403, 200, 200)),
    Row(route=api_action("cancel"), method="POST", kwargs=RUN, data=lambda ctx: {}, expect=EA(200, 403, 200, 200)),
    Row(route=api_action("submit"), method="POST", kwargs=RUN, data=lambda ctx: {}, expect=EA(409, 403, 403, 403),
        note="already submitted"),
    Row(route=api_action("submit"), method="POST", kwargs=DRAFT, data=lambda ctx: {}, expect=EA(200, 403, 403, 403)),
    Row(route=api_action("retry"), method="POST", kwargs=RUN, data=lambda ctx: {}, expect=EA(409, 403, 409, 409),
        note="nothing failed"),
    Row(route=api_action("retry"), method="POST", kwargs=FAILED, data=lambda ctx: {}, expect=EA(200, 403, 200, 200)),
    Row(route=api_action("samples"), kwargs=RUN, expect=VA(200)),
    Row(route="api/v1/samples/<int:pk>/", kwargs=SAMPLE, expect=VA(200)),
    Row(route="api/v1/run-items/<int:pk>/log/", kwargs=ITEM, expect=VA(200)),
    Row(route="api/v1/compare/", query=lambda ctx: f"items={ctx.item.pk}", expect=VA(200)),
]
