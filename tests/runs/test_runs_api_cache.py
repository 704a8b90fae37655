"""A run's JSON (GET /api/v1/runs/{id}/, what API clients poll while a run executes) may be kept
RUNS_API_CACHE_SECONDS and shared by everyone who may see the run: who may see it is still decided on every
request, and an API write to the run is seen by the next poll at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import Run
from tests.support.factories import OrganisationFactory, UserFactory
from tests.support.helpers import bearer_headers

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings):
    from django.core.cache import cache

    settings.RUNS_API_CACHE_SECONDS = 30
    cache.clear()
    yield
    cache.clear()


def test_the_json_is_kept_for_everyone_who_may_see_the_run_and_served_with_fewer_queries(
        client, cached, draft_run, uk_staff, us_staff, uk_approver):
    url = f"/api/v1/runs/{draft_run.pk}/"
    first = client.get(url, **bearer_headers(uk_staff))
    assert first.status_code == 200 and first.json()["name"] == "Draft run"
    Run.objects.filter(pk=draft_run.pk).update(name="Renamed behind the API")  # no API write: nothing drops it

    headers = bearer_headers(us_staff)
    client.get(url, **headers)
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, **headers)
    assert again.json() == first.json()  # the kept JSON, for another institute's member too
    assert len(queries) <= 3  # the token, the access check (and at most a last-used write): no serialisation

    # An API write drops what was kept: the next poll sees the run as it is now.
    assert client.post(f"{url}submit/", content_type="application/json", **bearer_headers(uk_staff)).status_code == 200
    now = client.get(url, **bearer_headers(uk_approver)).json()
    assert now["status"] == "submitted" and now["name"] == "Renamed behind the API"


def test_who_may_see_the_run_is_decided_on_every_request_not_kept(client, cached, draft_run, uk_staff,
                                                                   partner_viewer):
    url = f"/api/v1/runs/{draft_run.pk}/"
    assert client.get(url, **bearer_headers(uk_staff)).status_code == 200
    outsider_institute = OrganisationFactory(name="Institut Exterieur", kind="institute", country_code="FR")
    outsider = UserFactory(email="fr.staff@example.org", organisation=outsider_institute, role="staff")
    assert client.get(url, **bearer_headers(outsider)).status_code == 404
    assert client.get(url, **bearer_headers(partner_viewer, scope="read")).status_code in (403, 404)
    # A token revoked after the JSON was kept gets nothing from it.
    headers = bearer_headers(uk_staff)
    assert client.get(url, **headers).status_code == 200
    from accounts.models import ApiToken

    ApiToken.objects.filter(user=uk_staff).update(revoked_at=draft_run.created_at)
    assert client.get(url, **headers).status_code == 401


def test_with_the_cache_off_every_poll_reads_the_database(client, settings, draft_run, uk_staff):
    settings.RUNS_API_CACHE_SECONDS = 0
    url = f"/api/v1/runs/{draft_run.pk}/"
    headers = bearer_headers(uk_staff)
    assert client.get(url, **headers).json()["name"] == "Draft run"
    Run.objects.filter(pk=draft_run.pk).update(name="Renamed")
    assert client.get(url, **headers).json()["name"] == "Renamed"


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_polls_on_an_expired_json_makes_it_once(cached, draft_run, uk_staff, monkeypatch):
    """Many clients polling at the same moment when the kept JSON has expired: one request makes it again, the
    others wait for it and read it (each still let in by the access check), all with the same answer."""
    import threading

    from django.db import connections
    from django.test import Client

    from evaluations.api import runs as api

    made = []
    real = api.RunSerializer.to_representation

    def counted(self, instance):  # a spy: counts the serialisations, the real one answers
        made.append(instance.pk)
        return real(self, instance)

    monkeypatch.setattr(api.RunSerializer, "to_representation", counted)
    headers = bearer_headers(uk_staff)
    url = f"/api/v1/runs/{draft_run.pk}/"
    start = threading.Barrier(8)
    answers: list[tuple[int, bytes]] = []

    def poll() -> None:
        try:
            client = Client()
            start.wait(10)
            response = client.get(url, **headers)
            answers.append((response.status_code, response.content))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [status for status, _ in answers] == [200] * 8
    assert len({body for _, body in answers}) == 1
    assert made == [draft_run.pk]
