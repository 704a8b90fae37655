"""Regressions over time (issue 13): the baseline staff choose (audited), the trend page (plot with its text
alternative and data table, escaped names, a fixed number of queries), and the notice when a newly finished item
is significantly below the baseline — sent for a lower result, not for an equal one (real rows, real commit)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import Notification, Run, RunItem, SampleResult, TrendBaseline
from evaluations.services.execution import item_finish
from evaluations.services.runs import run_create
from evaluations.services.trends import item_regression_check
from portal.models import AuditEvent
from tests.trends.conftest import BAD, GOOD

pytestmark = pytest.mark.django_db

def _trend_url(exercise, pair) -> str:
    return f"/trends/?exercise={exercise.pk}&model={pair['model'].pk}&task={pair['task'].pk}"


def _finish_new_item(*, exercise, actor, pair, scores, django_capture_on_commit_callbacks) -> RunItem:
    """An item of a new run that a worker runs and finishes through services.execution.item_finish."""
    run = run_create(actor=actor, exercise=exercise, models=[pair["model"]], tasks=[pair["task"]],
                     options={"name": "Nightly run"})
    Run.objects.filter(pk=run.pk).update(state="running")
    item = run.items.get()
    RunItem.objects.filter(pk=item.pk).update(state="running", lease_owner="worker-1")
    SampleResult.objects.bulk_create([SampleResult(item=item, sample_id=s, epoch=e, score=v)
                                      for s, values in scores.items() for e, v in enumerate(values, start=1)])
    item.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert item_finish(item=item, owner="worker-1", state="succeeded", log_name="", metrics={},
                           error="") == "succeeded"
    return item


def test_a_significantly_lower_result_notifies_the_planner_and_the_exercise_staff(
        exercise, uk_staff, us_staff, us_approver, partner_viewer, pair, baseline_item,
        django_capture_on_commit_callbacks, mailoutbox):
    item = _finish_new_item(exercise=exercise, actor=us_staff, pair=pair, scores=BAD,
                            django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    notices = Notification.objects.filter(kind=Notification.Kind.REGRESSION, run=item.run)
    assert set(notices.values_list("user", flat=True)) >= {us_staff.pk, uk_staff.pk, us_approver.pk}
    assert not notices.filter(user=partner_viewer).exists()
    text = notices.first().text
    assert "scored 25.0" in text and "below its baseline 95.0" in text and "lower by 70.0 points" in text
    assert AuditEvent.objects.filter(action="trend.regression", object_id=str(item.run_id)).exists()
    RunItem.objects.filter(pk=item.pk).update(state="succeeded")
    assert item_regression_check(item_id=item.pk) is False  # reported once
    assert RunItem.objects.get(pk=item.pk).state == "succeeded"


def test_an_equal_result_sends_no_notice(exercise, uk_staff, pair, baseline_item,
                                         django_capture_on_commit_callbacks):
    item = _finish_new_item(exercise=exercise, actor=uk_staff, pair=pair, scores=GOOD,
                            django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    assert not Notification.objects.filter(kind=Notification.Kind.REGRESSION).exists()
    assert RunItem.objects.get(pk=item.pk).state == "succeeded"


def test_without_a_baseline_nothing_is_checked(exercise, uk_staff, pair, django_capture_on_commit_callbacks):
    _finish_new_item(exercise=exercise, actor=uk_staff, pair=pair, scores=BAD,
                     django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    assert not Notification.objects.filter(kind=Notification.Kind.REGRESSION).exists()


def test_the_baseline_is_chosen_by_staff_audited_and_replaced(client, sign_in, exercise, uk_staff, us_staff, pair,
                                                              baseline_item, make_finished_run):
    later = make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"],
                              scores=[GOOD], name="Later run", days_ago=1).items.get()
    sign_in(client, us_staff)
    response = client.post("/trends/baseline/", {"item": later.pk, "reason": "newer sign-off"})
    assert response.status_code == 302 and response["Location"].endswith(_trend_url(exercise, pair))
    baseline = TrendBaseline.objects.get()
    assert baseline.item_id == later.pk and baseline.set_by == us_staff and baseline.reason == "newer sign-off"
    event = AuditEvent.objects.filter(action="trend.baseline_set").order_by("-pk").first()
    assert event.before == {"item": baseline_item.pk} and event.after["item"] == later.pk


def test_a_failed_item_cannot_be_the_baseline(client, sign_in, exercise, uk_staff, pair, make_finished_run):
    run = make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"],
                            scores=[GOOD])
    item = run.items.get()
    ok = make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"],
                           scores=[GOOD], name="Good run")
    RunItem.objects.filter(pk=item.pk).update(state="failed")
    sign_in(client, uk_staff)
    response = client.post("/trends/baseline/", {"item": item.pk})
    assert response.status_code == 400 and "Choose a succeeded item" in response.content.decode()
    assert not TrendBaseline.objects.exists() and ok


def test_admins_read_the_trend_but_do_not_choose_the_baseline(client, sign_in, exercise, admin_user, pair,
                                                              baseline_item):
    sign_in(client, admin_user)
    html = client.get(_trend_url(exercise, pair)).content.decode()
    assert "Make baseline" not in html
    assert client.post("/trends/baseline/", {"item": baseline_item.pk}).status_code == 403


def test_the_trend_page_draws_the_plot_with_its_text_alternative_and_table(
        client, sign_in, exercise, uk_staff, pair, baseline_item, make_finished_run):
    make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"], scores=[BAD],
                      name="<script>alert(1)</script> run", days_ago=1)
    sign_in(client, uk_staff)
    response = client.get(_trend_url(exercise, pair))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'role="img"' in html
    assert 'aria-labelledby="trend-0-title trend-0-desc"' in html
    assert "Significantly below the baseline: 2. &lt;script&gt;alert(1)&lt;/script&gt; run." in html
    assert "<script>alert(1)" not in html
    assert "Score (clustered by sample): each result" in html  # the data table's caption
    assert ">0.950<" in html and ">0.250<" in html and "govuk-tag--red\">Below" in html
    assert "match/accuracy" in html  # the logs' metrics are series too
    assert "the release we signed off" in html


def test_the_run_page_and_the_model_page_link_to_the_trend(client, sign_in, exercise, uk_staff, pair,
                                                           baseline_item):
    sign_in(client, uk_staff)
    url = _trend_url(exercise, pair).replace("&", "&amp;")
    assert url in client.get(f"/runs/{baseline_item.run_id}/").content.decode()
    assert url in client.get(f"/models/{pair['model'].registered_model_id}/").content.decode()


def test_bad_or_unknown_parameters(client, sign_in, exercise, uk_staff, pair, baseline_item):
    sign_in(client, uk_staff)
    response = client.get(f"/trends/?exercise={exercise.pk}&model=x&task={pair['task'].pk}")
    assert response.status_code == 400 and "model version" in response.content.decode()
    assert client.get(f"/trends/?exercise={exercise.pk}&model=999999&task={pair['task'].pk}").status_code == 404
    assert client.get(f"/trends/?exercise=999999&model={pair['model'].pk}&task={pair['task'].pk}").status_code == 404
    assert client.post("/trends/baseline/", {"item": "999999"}).status_code == 404
    assert client.post("/trends/baseline/", {"item": "x"}).status_code == 400


def test_partner_viewers_get_404_everywhere(client, sign_in, exercise, partner_viewer, pair, baseline_item):
    from rest_framework.test import APIClient

    from tests.support.helpers import sign_in as api_sign_in

    sign_in(client, partner_viewer)
    assert client.get(_trend_url(exercise, pair)).status_code == 404
    assert client.post("/trends/baseline/", {"item": baseline_item.pk}).status_code == 404
    assert client.get(f"/runs/power/?task_versions={pair['task'].pk}").status_code == 404
    api = api_sign_in(APIClient(), partner_viewer)
    assert api.get(f"/api/v1/power/?tasks={pair['task'].pk}").status_code == 404


def test_the_trend_page_makes_the_same_queries_with_2_and_8_results(client, sign_in, exercise, uk_staff, pair,
                                                                    baseline_item, make_finished_run):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(_trend_url(exercise, pair)).status_code == 200
        return len(queries)

    make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"], scores=[BAD])
    sign_in(client, uk_staff)
    count()  # warm-up: the session's first request writes its once-only rows
    small = count()
    for n in range(6):
        make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"],
                          scores=[{**GOOD, **{f"x{n}-{i}": [0.5] for i in range(30)}}], name=f"Run {n}")
    assert count() == small


def test_a_too_long_reason_is_refused_beside_its_field(client, sign_in, exercise, uk_staff, pair, baseline_item):
    sign_in(client, uk_staff)
    response = client.post("/trends/baseline/", {"item": baseline_item.pk, "reason": "x" * 200_000})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_reason"' in html and "govuk-error-message" in html
    assert TrendBaseline.objects.get().reason == "the release we signed off"
