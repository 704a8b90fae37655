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
