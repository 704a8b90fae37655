"""An exercise's page (issue 12): its institutes, partners, models, evaluations, runs by state and findings, with
links, as the reader may see them; "No dates set"; queries that do not grow with the exercise."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.home_data import home_data

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def data(exercise, uk_staff, us_staff, uk_approver, us_approver, admin_user, partner_ca):
    def make(copies: int = 1, start: int = 0) -> None:
        home_data(exercise=exercise, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
                  us_approver=us_approver, admin=admin_user, partner=partner_ca, copies=copies, start=start)
    return make


def test_the_exercise_page_lists_what_it_holds_with_links(client, sign_in, uk_staff, exercise, data):
    data()
    sign_in(client, uk_staff)
    response = client.get(f"/exercises/{exercise.pk}/")
    html, text = response.content.decode(), _text(response)
    assert "UK AISI, US AISI" in text and "Partner Institute CA" in text
    assert "Home model 0" in text and "home task 0" in text
    assert re.search(r"\d+ runs by state", text)
    assert f"/runs/?exercise={exercise.pk}&amp;state=rejected" in html
    assert "Finding to sign off 0" in text and "Released finding 0" in text
    assert re.search(r"\d+ findings: .*1 in review.*1 released", text)
    assert "/models/" in html and "/tasks/" in html


def test_an_exercise_without_dates_says_no_dates_set(client, sign_in, uk_staff, exercise):
    sign_in(client, uk_staff)
    text = _text(client.get(f"/exercises/{exercise.pk}/"))
    assert "No dates set" in text and "not set to not set" not in text
    assert "No runs yet." in text and "No findings yet." in text and "No models registered in this exercise yet." in text


def test_partners_see_only_what_was_released_to_them_on_the_exercise_page(client, sign_in, partner_viewer, exercise,
                                                                          data):
    sign_in(client, partner_viewer)
    empty = _text(client.get(f"/exercises/{exercise.pk}/"))
    assert "Nothing from this exercise has been released to your organisation yet." in empty
    data()
    text = _text(client.get(f"/exercises/{exercise.pk}/"))
    assert "Released finding 0" in text
    for hidden in ("Finding to sign off", "Home model", "home task", "runs by state", "Rejected run"):
        assert hidden not in text


@pytest.mark.parametrize("actor", ["uk_staff", "admin_user", "partner_viewer"])
def test_the_exercise_page_does_not_grow_queries_with_data(client, sign_in, request, actor, exercise, data):
    sign_in(client, request.getfixturevalue(actor))
    url = f"/exercises/{exercise.pk}/"
    data(copies=1)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    data(copies=3, start=1)
    with CaptureQueriesContext(connection) as large:
        client.get(url)
    assert len(large) == len(small)


@pytest.mark.parametrize("models", [3, 5, 7])
def test_the_overview_counts_a_list_whether_or_not_it_was_cut(monkeypatch, uk_staff, exercise, models):
    """A list shorter than the page's size is all there is (not counted again); a cut one is counted."""
    from evaluations.selectors import exercises as selectors
    from tests.support.factories import model_version

    monkeypatch.setattr(selectors, "OVERVIEW_LIST_SIZE", 5)
    for n in range(models):
        model_version(exercise=exercise, user=uk_staff, name=f"Model {n}")
    shown = selectors.exercise_overview(user=uk_staff, exercise=exercise)["models"]
    assert shown["count"] == models
    assert len(shown["rows"]) == min(models, 5) and shown["more"] == max(models - 5, 0)


def test_the_pages_findings_list_reads_only_what_it_shows(client, sign_in, uk_staff, exercise, data):
    """Each finding's title, state and severity: its models and evaluations are not read."""
    data()
    sign_in(client, uk_staff)
    client.get(f"/exercises/{exercise.pk}/")
    with CaptureQueriesContext(connection) as queries:
        text = _text(client.get(f"/exercises/{exercise.pk}/"))
    assert "Finding to sign off 0" in text
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "evaluations_finding_model_versions" not in sql and "evaluations_finding_task_versions" not in sql
