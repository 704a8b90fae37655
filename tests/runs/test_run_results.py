"""The run page's results: registered model names with the provider string as detail, the main metric with its
interval, samples, errors, time, tokens and cost in dollars, server-side sorting, a fixed number of queries
whatever the number of items; and comparing checked items, refusing other evaluation versions and bad ids."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evaluations.models import Run, RunItem, SampleResult
from evaluations.services.runs import run_create
from tests.support.factories import model_version, task_version

pytestmark = pytest.mark.django_db


def _finished(run: Run, results: list[tuple[float, int]]) -> list[RunItem]:
    """Finish the run's items in order with (accuracy, errors), 4 samples each, as a worker would write them."""
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(state="succeeded", finished_at=now)
    items = list(run.items.order_by("pk"))
    for item, (accuracy, errors) in zip(items, results, strict=False):
        RunItem.objects.filter(pk=item.pk).update(
            state="succeeded", done_samples=4, total_samples=4, error_samples=errors, input_tokens=400,
            output_tokens=90, cost=Decimal("0.0123"), started_at=now - timedelta(minutes=5, seconds=2),
            finished_at=now, log_path=f"run-logs/{item.pk}.eval",
            metrics={"match": {"accuracy": accuracy, "stderr": 0.25}})
        SampleResult.objects.bulk_create([
            SampleResult(item=item, sample_id=str(n), epoch=1, score=1.0 if n < accuracy * 4 else 0.0)
            for n in range(4)])
    return items


@pytest.fixture
def two_models(exercise, uk_staff, counting_task):
    first = model_version(exercise=exercise, user=uk_staff, name="Gemma small")
    second = model_version(exercise=exercise, user=uk_staff, name="Gemma large")  # same provider string
    run = run_create(actor=uk_staff, exercise=exercise, models=[first, second], tasks=[counting_task],
                     options={"name": "Two models"})
    return run, _finished(run, [(0.75, 1), (0.5, 0)])


def test_results_name_the_registered_models_and_show_the_metric_with_interval_time_tokens_and_cost(
        two_models, sign_in, us_staff):
    run, (small, large) = two_models
    body = sign_in(Client(), us_staff).get(f"/runs/{run.pk}/").content.decode()
    assert "Gemma small v1" in body and "Gemma large v1" in body and "mockllm/model" in body
    assert "0.750" in body and "0.26 to 1.00" in body and "match: accuracy" in body  # 0.75 ± 1.96 × 0.25, kept within 0 to 1
    assert "4 of 4" in body and "5 min 2 s" in body and "490" in body and "$0.0123" in body
    assert f"/run-items/{small.pk}/viewer/" in body and f"/run-items/{small.pk}/log.eval?download=1" in body
    assert body.index("Results by model and evaluation") < body.index("What is approved")


def test_results_sort_on_the_server_with_links_that_say_the_order(two_models, sign_in, us_staff):
    run, (small, large) = two_models
    client = sign_in(Client(), us_staff)
    ascending = client.get(f"/runs/{run.pk}/", {"sort": "score", "order": "asc"}).content.decode()
    assert ascending.index("Gemma large v1") < ascending.index("Gemma small v1")
    assert re.search(r'aria-sort="ascending"><a [^>]*href="/runs/\d+/\?sort=score&amp;order=desc"', ascending)
    descending = client.get(f"/runs/{run.pk}/", {"sort": "score", "order": "desc"}).content.decode()
    assert descending.index("Gemma small v1") < descending.index("Gemma large v1")
    assert client.get(f"/runs/{run.pk}/", {"sort": "nonsense"}).status_code == 200


def test_samples_and_a_sample_name_the_registered_model(two_models, sign_in, us_staff):
    run, (small, _) = two_models
    client = sign_in(Client(), us_staff)
    listing = client.get(f"/runs/{run.pk}/samples/").content.decode()
    assert "Gemma small v1" in listing and "Gemma large v1" in listing
    sample = small.samples.first()
    page = client.get(f"/samples/{sample.pk}/").content.decode()
    assert "Gemma small v1 on counting v1" in page and "mockllm/model" in page


def test_the_api_gives_the_model_name_beside_the_provider_string(two_models, us_staff):
    from rest_framework.test import APIClient

    run, _ = two_models
    client = APIClient()
    client.force_authenticate(us_staff)
    items = client.get(f"/api/v1/runs/{run.pk}/").json()["items"]
    assert {(i["model_name"], i["model"], i["task_name"]) for i in items} == {
        ("Gemma small v1", "mockllm/model", "counting v1"), ("Gemma large v1", "mockllm/model", "counting v1")}
    assert {i["status_label"] for i in items} == {"Succeeded"}


def test_the_run_page_makes_the_same_number_of_queries_for_one_item_or_six(exercise, uk_staff, us_staff, sign_in,
                                                                           counting_task):
    models = [model_version(exercise=exercise, user=uk_staff, name=f"Model {n}") for n in range(2)]
    tasks = [counting_task, *(task_version(exercise=exercise, user=uk_staff, name=f"task {n}") for n in range(2))]
    small = run_create(actor=uk_staff, exercise=exercise, models=models[:1], tasks=tasks[:1], options={})
    big = run_create(actor=uk_staff, exercise=exercise, models=models, tasks=tasks, options={})
    _finished(small, [(0.5, 0)])
    _finished(big, [(0.5, 0)] * 6)
    client = sign_in(Client(), us_staff)
    counts = {}
    for run in (small, big):
        for url in (f"/runs/{run.pk}/", f"/runs/{run.pk}/items/"):
            client.get(url)  # warm the session
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            counts[(run.items.count(), url.endswith("items/"))] = len(queries)
    assert counts[(1, False)] == counts[(6, False)] and counts[(1, True)] == counts[(6, True)], counts


# --- compare ------------------------------------------------------------------------------------------------

def test_items_checked_on_the_run_page_are_compared_with_names_intervals_and_p_values(two_models, sign_in,
                                                                                     us_staff):
    run, (small, large) = two_models
    client = sign_in(Client(), us_staff)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert f'name="items" type="checkbox" value="{small.pk}"' in page and "Compare chosen items" in page
    response = client.get("/runs/compare/", {"items": [small.pk, large.pk]})  # two checked boxes
    body = response.content.decode()
    assert response.status_code == 200
    assert "Gemma small v1" in body and "Gemma large v1" in body and "counting v1" in body
    assert "95% confidence interval" in body and "p-value" in body


@pytest.mark.parametrize("value", ["abc", "1;2", "-3", "1.5"])
def test_compare_refuses_ids_that_are_not_whole_numbers_with_a_message(value, two_models, sign_in, us_staff):
    from rest_framework.test import APIClient

    response = sign_in(Client(), us_staff).get("/runs/compare/", {"items": f"{two_models[1][0].pk},{value}"})
    body = response.content.decode()
    assert response.status_code == 400 and "govuk-error-summary" in body and 'href="#id_items"' in body
    assert "Item ids are whole numbers" in body
    assert "<title>Error: Compare items" in body
    api = APIClient()
    api.force_authenticate(us_staff)
    answer = api.get("/api/v1/compare/", {"items": f"{two_models[1][0].pk},{value}"})
    assert answer.status_code == 400 and "Item ids are whole numbers" in answer.json()["errors"]["items"][0]


def test_compare_refuses_items_of_different_evaluation_versions(two_models, exercise, uk_staff, us_staff, sign_in):
    from rest_framework.test import APIClient

    run, (small, _) = two_models
    counting_v2 = small.task_version.eval_task.versions.create(
        number=2, kind="registry", registry_name=small.task_version.registry_name, args={"samples": 5},
        created_by=uk_staff)
    later = run_create(actor=uk_staff, exercise=exercise, models=[small.model_version], tasks=[counting_v2],
                       options={})
    (newer,) = _finished(later, [(1.0, 0)])
    response = sign_in(Client(), us_staff).get("/runs/compare/", {"items": [small.pk, newer.pk]})
    body = response.content.decode()
    assert response.status_code == 400 and "Choose items of one evaluation version" in body
    assert "counting v1" in body and "counting v2" in body
    assert "Paired differences" not in body
    api = APIClient()
    api.force_authenticate(us_staff)
    answer = api.get("/api/v1/compare/", {"items": f"{small.pk},{newer.pk}"})
    assert answer.status_code == 400 and "one evaluation version" in answer.json()["errors"]["items"][0]


def test_compare_answers_404_for_an_item_the_reader_may_not_see(two_models, sign_in, partner_viewer, us_staff):
    small = two_models[1][0]
    assert sign_in(Client(), us_staff).get("/runs/compare/", {"items": f"{small.pk},999999"}).status_code == 404
    assert sign_in(Client(), partner_viewer).get("/runs/compare/", {"items": small.pk}).status_code == 404


def test_the_exercise_compare_picker_groups_finished_items_by_evaluation_version(two_models, exercise, us_staff,
                                                                                rf):
    from django.template import Context, Template

    run, (small, large) = two_models
    request = rf.get("/")
    request.user = us_staff
    html = Template("{% load runs %}{% compare_picker exercise %}").render(
        Context({"request": request, "exercise": exercise}))
    assert "<legend" in html and "counting v1" in html
    assert f'value="{small.pk}"' in html and f'value="{large.pk}"' in html and 'action="/runs/compare/"' in html


def test_a_run_of_several_models_and_evaluations_leads_with_a_models_by_evaluations_grid(exercise, uk_staff,
                                                                                        us_staff, sign_in,
                                                                                        counting_task):
    models = [model_version(exercise=exercise, user=uk_staff, name=name) for name in ("Alpha", "Beta")]
    tasks = [counting_task, task_version(exercise=exercise, user=uk_staff, name="Arithmetic")]
    run = run_create(actor=uk_staff, exercise=exercise, models=models, tasks=tasks, options={})
    _finished(run, [(0.25, 0), (0.5, 0), (0.75, 2)])  # the fourth item (Beta × Arithmetic) stays pending
    body = sign_in(Client(), us_staff).get(f"/runs/{run.pk}/").content.decode()
    grid = body[body.index("Score by model and evaluation"):body.index("Results by model and evaluation")]
    headers = re.findall(r'<th scope="col" class="govuk-table__header[^"]*">([^<]+)</th>', grid)
    assert headers == ["Model", "Arithmetic v1", "counting v1"]
    rows = re.findall(r'<th scope="row"[^>]*>([^<]+)<', grid)
    assert rows == ["Alpha v1", "Beta v1"]
    assert "0.750" in grid and "4 samples, 2 errors" in grid and "Not started" in grid
