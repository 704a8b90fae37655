"""Power planning in the portal (issue 13): variance components from earlier results (SQL, bounded queries), the
run form's plan with htmx and without JavaScript, the API, and the plan stored with the run for the approvers."""

from __future__ import annotations

import statistics

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from evaluations.models import Run
from evaluations.selectors.power import power_components
from evaluations.statistics.power import DEFAULT_COMPONENTS, Components, minimum_detectable_difference
from tests.support.factories import model_version, task_version

pytestmark = pytest.mark.django_db

A = {"s1": [1, 1], "s2": [1, 0], "s3": [0, 0], "s4": [1, 1], "s5": [0, 1]}
B = {"s1": [1, 0], "s2": [0, 0], "s3": [0, 1], "s4": [1, 1], "s5": [0, 0]}


def api(user) -> APIClient:  # type: ignore[no-untyped-def]
    from tests.support.helpers import sign_in

    return sign_in(APIClient(), user)


@pytest.fixture
def setup(exercise, uk_staff):
    return {"a": model_version(exercise=exercise, user=uk_staff, name="Model A"),
            "b": model_version(exercise=exercise, user=uk_staff, name="Model B"),
            "task": task_version(exercise=exercise, user=uk_staff, name="Quiz"),
            "fresh": task_version(exercise=exercise, user=uk_staff, name="Fresh quiz")}


def _expected() -> Components:
    """The same components worked out by hand (Python's statistics module) from the scores above."""
    means = {k: [statistics.mean(v) for v in d.values()] for k, d in (("a", A), ("b", B))}
    within = statistics.mean([statistics.variance(v) for d in (A, B) for v in d.values()])
    mean_var = statistics.mean([statistics.variance(means["a"]), statistics.variance(means["b"])])
    between = mean_var - within / 2
    cov = statistics.covariance(means["a"], means["b"])
    return Components(between=between, within=within, correlation=cov / between, source="task_version", items=2,
                      pairs=5)


def test_the_components_come_from_earlier_items_in_one_query(exercise, uk_staff, setup, make_finished_run):
    make_finished_run(actor=uk_staff, exercise=exercise, models=[setup["a"], setup["b"]], task=setup["task"],
                      scores=[A, B])
    with CaptureQueriesContext(connection) as queries:
        found = power_components(user=uk_staff, task_versions=[setup["task"], setup["fresh"]])
    assert len(queries) == 1
    components, observed = found[setup["task"].pk]
    expected = _expected()
    assert components.between == pytest.approx(expected.between)
    assert components.within == pytest.approx(expected.within)
    assert components.correlation == pytest.approx(expected.correlation)
    assert (components.source, components.items, components.pairs, observed) == ("task_version", 2, 5, 5)
    assert found[setup["fresh"].pk] == (DEFAULT_COMPONENTS, None)  # no earlier results: the stated default


def test_a_new_version_of_the_evaluation_borrows_the_other_versions_variance(exercise, uk_staff, setup,
                                                                             make_finished_run):
    from evaluations.models import TaskVersion

    make_finished_run(actor=uk_staff, exercise=exercise, models=[setup["a"], setup["b"]], task=setup["task"],
                      scores=[A, B])
    v2 = TaskVersion.objects.create(eval_task=setup["task"].eval_task, number=2, kind="registry",
                                    registry_name=setup["task"].registry_name, created_by=uk_staff)
    components, _ = power_components(user=uk_staff, task_versions=[v2])[v2.pk]
    assert components.source == "task" and components.between == pytest.approx(_expected().between)


def test_the_components_of_an_exercise_the_user_does_not_see_are_not_used(exercise, uk_staff, us_staff, setup,
                                                                          make_finished_run, uk_aisi):
    from tests.support.factories import ExerciseFactory

    uk_only = ExerciseFactory(name="UK only", institutes=[uk_aisi])
    setup["a"].registered_model.exercises.add(uk_only)
    setup["b"].registered_model.exercises.add(uk_only)
    setup["task"].eval_task.exercises.add(uk_only)
    make_finished_run(actor=uk_staff, exercise=uk_only, models=[setup["a"], setup["b"]], task=setup["task"],
                      scores=[A, B])
    assert power_components(user=us_staff, task_versions=[setup["task"]])[setup["task"].pk][0] == DEFAULT_COMPONENTS


def _form_query(exercise, setup, **extra) -> str:
    parts = [f"exercise={exercise.pk}", f"task_versions={setup['task'].pk}", f"model_versions={setup['a'].pk}",
             f"model_versions={setup['b'].pk}", "limit=100", "epochs=1"]
    parts += [f"{k}={v}" for k, v in extra.items()]
    return "&".join(parts)


def test_without_javascript_the_power_button_reloads_the_form_with_the_plan(client, sign_in, exercise, uk_staff,
                                                                            setup):
    sign_in(client, uk_staff)
    html = client.get("/runs/new/").content.decode()
    assert 'name="power" value="1"' in html and "Work out the power" in html
    response = client.get(f"/runs/new/?{_form_query(exercise, setup, power=1, power_difference=5, name='Keep me')}")
    html = response.content.decode()
    assert response.status_code == 200
    # the default (binary p = 0.5, correlation 0.5): 14.0 points with 100 samples; 785 samples for 5 points
    assert "14.0 points" in html and ">785<" in html and "No earlier results: the default" in html
    # what was typed stays in the form (the boxes ticked, the name, the difference)
    assert 'value="Keep me"' in html and f'value="{setup["task"].pk}" checked' in html
    assert Run.objects.count() == 0


def test_with_htmx_the_plan_follows_the_fields(client, sign_in, exercise, uk_staff, setup, make_finished_run):
    make_finished_run(actor=uk_staff, exercise=exercise, models=[setup["a"], setup["b"]], task=setup["task"],
                      scores=[A, B])
    sign_in(client, uk_staff)
    html = client.get("/runs/new/").content.decode()
    assert 'hx-get="/runs/power/"' in html and 'hx-include="closest form"' in html and 'hx-target="#run-power"' in html
    response = client.get(f"/runs/power/?{_form_query(exercise, setup, power_difference=5)}",
                          headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    mdd = minimum_detectable_difference(_expected(), samples=5, epochs=1) * 100  # the dataset has 5 samples
    assert f"{mdd:.1f} points" in html and "5 × 1" in html and "2 earlier results of this version" in html
    assert "more than the 5 in the dataset" in html
    bad = client.get(f"/runs/power/?{_form_query(exercise, setup, power_difference='lots')}").content.decode()
    assert "Enter a difference to detect as a number, like 5" in bad


def test_the_plan_is_stored_with_the_run_and_approvers_see_it(client, sign_in, exercise, uk_staff, us_approver,
                                                              setup):
    sign_in(client, uk_staff)
    response = client.post("/runs/new/", {
        "exercise": exercise.pk, "name": "Planned", "model_versions": [setup["a"].pk, setup["b"].pk],
        "task_versions": [setup["task"].pk], "limit": 100, "epochs": 1, "power_difference": 5, "schedule": "now",
        "submit": "1"})
    assert response.status_code == 302, response.content.decode()[:2000]
    run = Run.objects.get(name="Planned")
    (entry,) = run.power_plan["evaluations"]
    assert entry["minimum_detectable_difference"] == 14.01 and entry["samples_needed"] == 785
    assert run.power_plan["difference"] == 5 and run.power_plan["pairs"] == 1
    sign_in(client, us_approver)
    for url in (f"/runs/{run.pk}/", f"/runs/{run.pk}/approve/"):
        html = client.get(url).content.decode()
        assert 'id="run-power-plan"' in html and "14.0 points" in html and "785 samples needed for 5 points" in html
    body = api(us_approver).get(f"/api/v1/runs/{run.pk}/").json()
    assert body["power_plan"]["evaluations"][0]["samples_needed"] == 785


def test_an_edit_recomputes_the_plan_and_keeps_the_difference(client, sign_in, exercise, uk_staff, setup):
    from evaluations.services.runs import run_create, run_update

    run = run_create(actor=uk_staff, exercise=exercise, models=[setup["a"]], tasks=[setup["task"]],
                     options={"limit": 100}, power_difference=5)
    run = run_update(actor=uk_staff, run=run, options={"limit": 400})
    (entry,) = run.power_plan["evaluations"]
    assert entry["samples"] == 400 and entry["minimum_detectable_difference"] == 7.0 and entry["samples_needed"] == 785


def test_a_bad_difference_is_refused_naming_the_field_and_saves_nothing(client, sign_in, exercise, uk_staff, setup):
    sign_in(client, uk_staff)
    response = client.post("/runs/new/", {
        "exercise": exercise.pk, "model_versions": [setup["a"].pk], "task_versions": [setup["task"].pk],
        "epochs": 1, "power_difference": 0, "schedule": "now"})
    assert response.status_code == 200
    assert "Enter a difference to detect between 0 and 100 points" in response.content.decode()
    assert Run.objects.count() == 0
    response = api(uk_staff).post("/api/v1/runs/", {"exercise": exercise.pk, "model_versions": [setup["a"].pk],
                                                    "task_versions": [setup["task"].pk], "power_difference": 0},
                                  format="json")
    assert response.status_code == 400 and "power_difference" in response.json()["errors"]
    assert Run.objects.count() == 0


def test_the_power_api(exercise, uk_staff, setup, partner_viewer):
    client = api(uk_staff)
    url = f"/api/v1/power/?tasks={setup['task'].pk},{setup['fresh'].pk}&models={setup['a'].pk},{setup['b'].pk}"
    body = client.get(f"{url}&limit=100&difference=5").json()
    assert [e["task_version"] for e in body["evaluations"]] == [setup["task"].pk, setup["fresh"].pk]
    first = body["evaluations"][0]
    assert first["minimum_detectable_difference"] == 14.01 and first["samples_needed"] == 785
    assert first["source"] == "default" and body["pairs"] == 1 and body["alpha"] == 0.05 and body["power"] == 0.8
    # epochs do not help when all the variance is between samples (the default)
    assert client.get(f"{url}&limit=100&epochs=4").json()["evaluations"][0]["minimum_detectable_difference"] == 14.01
    for query, field in (("tasks=x", "tasks"), (f"tasks={setup['task'].pk}&limit=0", "limit"),
                         (f"tasks={setup['task'].pk}&difference=500", "difference"), ("", "tasks"),
                         (f"tasks={setup['task'].pk}&epochs=1000", "epochs")):
        response = client.get(f"/api/v1/power/?{query}")
        assert response.status_code == 400 and field in response.json()["errors"], (query, response.json())
    assert client.get("/api/v1/power/?tasks=999999").status_code == 404
    assert api(partner_viewer).get(url).status_code == 404


def test_the_power_api_is_in_the_schema(exercise, uk_staff):
    schema = api(uk_staff).get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    params = {p["name"] for p in paths["/api/v1/power/"]["get"]["parameters"]}
    assert params >= {"tasks", "models", "limit", "epochs", "difference"}
