"""The trends API (issue 13): ``GET /api/v1/trends/`` gives the trend page's points with their intervals, the
baseline and whether each point is significantly below it; ``POST /api/v1/trends/baseline/`` chooses the baseline
as the page does (audited); bad parameters are a 400 naming the field; partner viewers get 404; a fixed number of
queries whatever the number of results."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from evaluations.models import RunItem, TrendBaseline
from portal.models import AuditEvent
from tests.trends.conftest import BAD, GOOD

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _query(exercise, pair) -> dict[str, int]:
    return {"exercise": exercise.pk, "model": pair["model"].pk, "task": pair["task"].pk}


def test_the_trend_as_json_with_intervals_baseline_and_the_point_below(exercise, uk_staff, us_staff, pair,
                                                                       baseline_item, make_finished_run):
    later = make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"],
                              scores=[BAD], name="Nightly run", days_ago=1).items.get()
    response = _api(us_staff).get("/api/v1/trends/", _query(exercise, pair))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["exercise"] == exercise.pk and body["model_version"] == pair["model"].pk
    assert body["task_version"] == pair["task"].pk and body["may_set_baseline"] is True
    assert body["baseline"]["item"] == baseline_item.pk and body["baseline"]["reason"] == "the release we signed off"
    assert body["baseline"]["set_by"] == uk_staff.email
    score = body["series"][0]
    assert score["metric"] == "score" and [s["metric"] for s in body["series"]] == ["score", "match/accuracy"]
    first, second = score["points"]  # oldest first
    assert (first["item"], first["run"], first["baseline"], first["below"]) == (baseline_item.pk,
                                                                               baseline_item.run_id, True, False)
    assert first["value"] == pytest.approx(0.95) and first["n"] == 40 and first["regression"] is None
    assert first["ci"][0] < 0.95 < first["ci"][1] and first["finished_at"]
    assert second["item"] == later.pk and second["value"] == pytest.approx(0.25) and second["below"] is True
    assert second["regression"]["significant"] is True and second["regression"]["p_value"] < 0.05
    assert second["regression"]["difference"] == pytest.approx(-0.70)


def test_the_same_figures_as_the_page(client, sign_in, exercise, uk_staff, pair, baseline_item):
    body = _api(uk_staff).get("/api/v1/trends/", _query(exercise, pair)).json()
    sign_in(client, uk_staff)
    html = client.get("/trends/", _query(exercise, pair)).content.decode()
    point = body["series"][0]["points"][0]
    assert f">{point['value']:.3f}<" in html and f"{point['ci'][0]:.3f} to {point['ci'][1]:.3f}" in html


def test_bad_parameters_are_named_and_unknown_ones_are_404(exercise, uk_staff, pair, baseline_item):
    api = _api(uk_staff)
    query = _query(exercise, pair)
    for name, value in (("model", "x"), ("task", ""), ("exercise", "-3"), ("model", "9" * 30)):
        response = api.get("/api/v1/trends/", {**query, name: value})
        assert response.status_code == 400, (name, value)
        assert "like " + name + "=3" in response.json()["errors"][name][0]
    missing = api.get("/api/v1/trends/", {"exercise": exercise.pk, "model": pair["model"].pk})
    assert missing.status_code == 400 and "task" in missing.json()["errors"]
    assert api.get("/api/v1/trends/", {**query, "model": 999999}).status_code == 404
    assert api.get("/api/v1/trends/", {**query, "exercise": 999999}).status_code == 404
    assert api.post("/api/v1/trends/baseline/", {"item": "x"}, format="json").status_code == 400
    assert api.post("/api/v1/trends/baseline/", {"item": 999999}, format="json").status_code == 404
    too_long = api.post("/api/v1/trends/baseline/", {"item": baseline_item.pk, "reason": "x" * 20_000}, format="json")
    assert too_long.status_code == 400 and "reason" in too_long.json()["errors"]


def test_the_baseline_is_chosen_through_the_api_and_audited(exercise, uk_staff, us_staff, pair,
                                                            baseline_item, make_finished_run):
    later = make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"],
                              scores=[GOOD], name="Later run", days_ago=1).items.get()
    response = _api(us_staff).post("/api/v1/trends/baseline/", {"item": later.pk, "reason": "newer sign-off"},
                                   format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["baseline"]["item"] == later.pk and body["baseline"]["set_by"] == us_staff.email
    assert (body["exercise"], body["model_version"], body["task_version"]) == (exercise.pk, pair["model"].pk,
                                                                               pair["task"].pk)
    baseline = TrendBaseline.objects.get()
    assert baseline.item_id == later.pk and baseline.reason == "newer sign-off"
    event = AuditEvent.objects.filter(action="trend.baseline_set").order_by("-pk").first()
    assert event.before == {"item": baseline_item.pk} and event.after["item"] == later.pk
    RunItem.objects.filter(pk=baseline_item.pk).update(state="failed")
    events = AuditEvent.objects.filter(action="trend.baseline_set").count()
    refused = _api(us_staff).post("/api/v1/trends/baseline/", {"item": baseline_item.pk}, format="json")
    assert refused.status_code == 400 and "item" in refused.json()["errors"]
    # Refused: nothing saved, the baseline stays, no audit event.
    assert TrendBaseline.objects.get().item_id == later.pk
    assert AuditEvent.objects.filter(action="trend.baseline_set").count() == events


def test_admins_read_but_do_not_choose_and_partners_reach_nothing(exercise, admin_user, partner_viewer, pair,
                                                                  baseline_item):
    admin = _api(admin_user)
    body = admin.get("/api/v1/trends/", _query(exercise, pair)).json()
    assert body["may_set_baseline"] is False
    assert admin.post("/api/v1/trends/baseline/", {"item": baseline_item.pk}, format="json").status_code == 403
    partner = _api(partner_viewer)
    assert partner.get("/api/v1/trends/", _query(exercise, pair)).status_code == 404
    assert partner.post("/api/v1/trends/baseline/", {"item": baseline_item.pk}, format="json").status_code == 404
    assert TrendBaseline.objects.get().item_id == baseline_item.pk


def test_the_api_makes_the_same_queries_with_2_and_8_results(exercise, uk_staff, pair, baseline_item,
                                                             make_finished_run):
    api = _api(uk_staff)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/trends/", _query(exercise, pair)).status_code == 200
        return len(queries)

    make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"], scores=[BAD])
    count()
    small = count()
    for n in range(6):
        make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"],
                          scores=[{**GOOD, **{f"x{n}-{i}": [0.5] for i in range(30)}}], name=f"Run {n}")
    assert count() == small


def test_the_trends_api_is_in_the_schema(uk_staff):
    schema = _api(uk_staff).get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {p["name"] for p in paths["/api/v1/trends/"]["get"]["parameters"]} >= {"exercise", "model", "task"}
    body = paths["/api/v1/trends/baseline/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/TrendBaselineWriteRequest")
