"""The run list and the run page cost the same number of queries with 2 and with 50 queued or running runs (queue
positions are computed once per page, in a fixed number of queries), in the HTML pages and the API alike."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations.models import Run, RunItem
from tests.support.factories import model_version, task_version

pytestmark = pytest.mark.django_db


def _active_runs(count: int, *, exercise, user, mv, tv) -> list[Run]:
    """``count`` runs, alternately queued (one item waiting, one sent to a worker) and running."""
    now = timezone.now()
    runs = []
    for n in range(count):
        running = n % 2 == 1
        run = Run.objects.create(exercise=exercise, created_by=user, owner_id=user.organisation_id, name=f"Run {n}",
                                 state=Run.State.RUNNING if running else Run.State.QUEUED)
        RunItem.objects.create(run=run, model_version=mv, task_version=tv, state=RunItem.State.QUEUED, queued_at=now)
        RunItem.objects.create(run=run, model_version=mv, task_version=tv,
                               state=RunItem.State.RUNNING if running else RunItem.State.QUEUED, queued_at=now,
                               enqueued_at=now)
        runs.append(run)
    return runs


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_run_list_and_run_page_cost_the_same_with_2_and_50_active_runs(client, sign_in, exercise, uk_staff,
                                                                       us_staff):
    mv, tv = model_version(exercise=exercise, user=uk_staff), task_version(exercise=exercise, user=uk_staff)
    first = _active_runs(2, exercise=exercise, user=uk_staff, mv=mv, tv=tv)
    sign_in(client, us_staff)
    api = APIClient()
    sign_in(api, us_staff)
    urls = {"list page": (client, "/runs/"), "run page": (client, f"/runs/{first[0].pk}/"),
            "items partial": (client, f"/runs/{first[0].pk}/items/"),
            "API list": (api, "/api/v1/runs/"), "API run": (api, f"/api/v1/runs/{first[0].pk}/")}
    for who, url in urls.values():
        _count(who, url)  # warm-up: the session's first request writes its once-only rows
    with_two = {name: _count(who, url) for name, (who, url) in urls.items()}
    _active_runs(48, exercise=exercise, user=uk_staff, mv=mv, tv=tv)
    with_fifty = {name: _count(who, url) for name, (who, url) in urls.items()}
    assert with_fifty == with_two


def test_the_run_page_shows_each_waiting_items_place_in_the_queue(client, sign_in, exercise, uk_staff):
    mv, tv = model_version(exercise=exercise, user=uk_staff), task_version(exercise=exercise, user=uk_staff)
    runs = _active_runs(3, exercise=exercise, user=uk_staff, mv=mv, tv=tv)
    sign_in(client, uk_staff)
    api = APIClient()
    sign_in(api, uk_staff)
    body = api.get(f"/api/v1/runs/{runs[2].pk}/").json()
    positions = sorted((item["status_label"], item["queue_position"]) for item in body["items"])
    # The item already sent to a worker is starting and has no place (no two items share one). The waiting one:
    # after the 2 queued items already sent (runs 0 and 2; run 1's is running) and the waiting items of runs 0
    # and 1 (the dispatcher's order): place 5.
    assert positions == [("Queued", 2 + 3), ("Starting", None)]
    assert "Position 5 in the queue" in client.get(f"/runs/{runs[2].pk}/").content.decode()
