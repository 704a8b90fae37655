"""The samples of a run of several items, page by page (issue 13, "Speed"): each page is read per item through the
(item, sample id, epoch) index (evaluations.selectors.runs.ItemOrderedSamples), and the pages still hold every
sample once, ordered by item, sample id and epoch, with the filters, counts and page links they had."""

from __future__ import annotations

import random
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations.models import Run, RunItem, SampleResult
from tests.support.factories import model_version, task_version
from tests.support.helpers import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_of_items(exercise, uk_staff):
    """A run of four items: 30 samples (2 epochs of 15), none, 12, 1; rows written in a shuffled order, so that
    neither the ids nor the insertion order give the page's order; every seventh sample has an error."""
    run = Run.objects.create(
        exercise=exercise,
        created_by=uk_staff,
        owner_id=uk_staff.organisation_id,
        name="Several items",
        state=Run.State.SUCCEEDED,
        finished_at=timezone.now(),
    )
    items = []
    for n in range(4):
        mv = model_version(exercise=exercise, user=uk_staff, name=f"Model {n}")
        tv = task_version(exercise=exercise, user=uk_staff, name=f"Task {n}")
        items.append(
            RunItem.objects.create(
                run=run,
                model_version=mv,
                task_version=tv,
                state="succeeded",
                model_label=mv.provider_model,
                task_label=tv.registry_name,
            )
        )
    rows = [(items[0], f"s{k:02d}", epoch) for k in range(15) for epoch in (1, 2)]
    rows += [(items[2], f"q{k}", 1) for k in range(12)] + [(items[3], "only", 1)]
    random.Random(13).shuffle(rows)
    for index, (item, sample_id, epoch) in enumerate(rows):
        SampleResult.objects.create(
            item=item,
            sample_id=sample_id,
            epoch=epoch,
            input_text=f"Input {sample_id}",
            output=f"Output {sample_id}",
            score=float(index % 2),
            error="Timed out" if index % 7 == 0 else "",
            messages=[{"role": "user"}],
        )
    return run


def _expected(run, **filters) -> list[int]:
    return list(
        SampleResult.objects.filter(item__run=run, **filters)
        .order_by("item_id", "sample_id", "epoch")
        .values_list("pk", flat=True)
    )


def _api_walk(client, url: str, **params) -> tuple[list[int], int]:
    seen, page, count = [], 1, None
    while True:
        body = client.get(url, {**params, "page": page}, HTTP_ACCEPT="application/json").json()
        count = body["count"] if count is None else count
        assert body["count"] == count
        seen += [row["id"] for row in body["results"]]
        if body["next"] is None:
            return seen, count
        page += 1


@pytest.mark.parametrize("page_size", [1, 4, 7, 25, 43, 500])
def test_the_api_pages_hold_every_sample_once_in_item_sample_epoch_order(run_of_items, uk_staff, page_size):
    client = sign_in(APIClient(), uk_staff)
    seen, count = _api_walk(client, f"/api/v1/runs/{run_of_items.pk}/samples/", page_size=page_size)
    assert seen == _expected(run_of_items) and count == 43


def test_the_api_filters_keep_the_order_across_items(run_of_items, uk_staff):
    client = sign_in(APIClient(), uk_staff)
    url = f"/api/v1/runs/{run_of_items.pk}/samples/"
    errors = _expected(run_of_items, error__gt="")
    assert 2 < len(errors) < 43
    assert _api_walk(client, url, error="yes", page_size=2) == (errors, len(errors))
    assert _api_walk(client, url, error="no", page_size=5)[0] == _expected(run_of_items, error="")
    assert _api_walk(client, url, score="correct", page_size=3)[0] == _expected(run_of_items, score__gt=0)
    third = run_of_items.items.order_by("pk")[2]
    assert _api_walk(client, url, item=third.pk, page_size=5)[0] == _expected(run_of_items, item=third)
    assert _api_walk(client, url, text="s03", page_size=5)[0] == _expected(
        run_of_items, input_text__contains="s03"
    )
    body = client.get(url, {"page_size": 4, "page": 2}, HTTP_ACCEPT="application/json").json()
    assert body["previous"] is not None and body["next"] is not None and len(body["results"]) == 4
    assert (
        "messages" not in body["results"][0]
        and body["results"][0]["item"] == run_of_items.items.order_by("pk")[0].pk
    )
    assert client.get(url, {"page": 99}, HTTP_ACCEPT="application/json").status_code == 404  # as before


def test_the_html_pages_show_25_samples_each_with_their_model_and_the_page_links(run_of_items, uk_staff):
    client = sign_in(Client(), uk_staff)
    url = f"/runs/{run_of_items.pk}/samples/"
    expected = _expected(run_of_items)
    pages = []
    for page in (1, 2):
        html = client.get(url, {"page": page}).content.decode()
        assert "43 sample results" in html and f"Page {page} of 2" in html
        pages.append([int(pk) for pk in re.findall(r'href="/samples/(\d+)/"', html)])
    assert pages[0] == expected[:25] and pages[1] == expected[25:]
    last = client.get(url, {"page": 9}).content.decode()  # too high: the last page, as before
    assert [int(pk) for pk in re.findall(r'href="/samples/(\d+)/"', last)] == expected[25:]
    first = client.get(url).content.decode()
    assert "Model 0 v1" in first and "Task 0 v1" in first
    errors = client.get(url, {"error": "yes"}).content.decode()
    assert [int(pk) for pk in re.findall(r'href="/samples/(\d+)/"', errors)] == _expected(
        run_of_items, error__gt=""
    )
    none = client.get(url, {"text": "nothing like this"}).content.decode()
    assert "No samples match these filters" in none


def test_a_page_costs_the_same_queries_wherever_it_falls(run_of_items, uk_staff):
    """The first page (one item), the second (two items: the first's last 5 and the third's 12 and the fourth's
    one, across the empty second) and a filtered page make the same number of queries."""
    client = sign_in(Client(), uk_staff)
    url = f"/runs/{run_of_items.pk}/samples/"
    client.get(url)
    counts = set()
    for params in ({}, {"page": 2}, {"error": "yes"}, {"item": run_of_items.items.order_by("pk")[2].pk}):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, params).status_code == 200
        counts.add(len(queries))
    assert len(counts) == 1, counts
