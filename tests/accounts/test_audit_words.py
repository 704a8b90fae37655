"""The audit trail in words (issue 12): who did what to which object, the object linked where the reader may see
it, the exercise by name, the state before and after, a filter by exercise name, and a fixed number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import Run
from portal.audit import audit_record
from tests.support.factories import ExerciseFactory, OrganisationFactory
from tests.support.home_data import home_data

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def data(exercise, uk_staff, us_staff, uk_approver, us_approver, admin_user, partner_ca):
    def make(copies: int = 1, start: int = 0) -> None:
        home_data(exercise=exercise, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
                  us_approver=us_approver, admin=admin_user, partner=partner_ca, copies=copies, start=start)
    return make


def test_events_read_as_sentences_with_links_exercise_names_and_before_and_after(client, sign_in, us_approver,
                                                                                 exercise, data):
    data()
    rejected = Run.objects.get(name="Rejected run 0")
    sign_in(client, us_approver)
    html = client.get("/audit/?action=run.reject").content.decode()
    text = _text(html)
    assert f"us.approver@example.org rejected run {rejected.pk} (Rejected run 0)" in text
    assert f'href="/runs/{rejected.pk}/"' in html
    assert "In Joint Exercise Alpha" in text and f'href="/exercises/{exercise.pk}/"' in html
    assert re.search(r"State submitted → rejected", text)


def test_creations_show_the_state_after_and_system_events_have_no_actor(client, sign_in, admin_user, data):
    data()
    sign_in(client, admin_user)
    text = _text(client.get("/audit/?action=run.create").content.decode())
    assert re.search(r"uk\.staff@example\.org planned run \d+ \(Draft run 0\)", text)
    assert "State draft" in text


def test_an_object_the_reader_may_not_see_is_named_but_not_linked(client, sign_in, uk_approver, uk_aisi, us_staff,
                                                                  us_aisi):
    other = OrganisationFactory(name="Third institute", kind="institute", country_code="FR")
    elsewhere = ExerciseFactory(name="Not UK's exercise", institutes=[us_aisi, other])
    run = Run.objects.create(exercise=elsewhere, created_by=us_staff, owner=us_aisi, name="Hidden run")
    audit_record(actor=uk_approver, action="run.approve", obj=run, before={"state": "submitted"},
                 after={"state": "submitted"})
    sign_in(client, uk_approver)
    html = client.get("/audit/").content.decode()
    assert f"approved run {run.pk}" in _text(html)
    assert "Hidden run" not in html and f'href="/runs/{run.pk}/"' not in html


def test_throttled_and_failed_sign_ins_read_in_words(client, sign_in, admin_user):
    from accounts.services import login_failure_record, login_throttled_record

    login_failure_record(email="who@example.org", request=None)
    login_throttled_record(email="who@example.org", request=None, step="password")
    sign_in(client, admin_user)
    text = _text(client.get("/audit/?action=auth.").content.decode())
    assert "Someone failed to sign in as who@example.org (bad credentials)" in text
    assert "Someone was refused sign-in: too many failed attempts as who@example.org" in text


def test_the_audit_trail_filters_by_exercise_name(client, sign_in, admin_user, exercise, uk_aisi, us_aisi):
    beta = ExerciseFactory(name="Exercise Beta", institutes=[uk_aisi, us_aisi])
    audit_record(actor=admin_user, action="test.alpha", exercise_id=exercise.pk)
    audit_record(actor=admin_user, action="test.beta", exercise_id=beta.pk)
    sign_in(client, admin_user)
    html = client.get("/audit/").content.decode()
    assert re.search(r'<select[^>]*name="exercise"', html)
    assert f'<option value="{beta.pk}">Exercise Beta</option>' in html
    filtered = _text(client.get(f"/audit/?exercise={beta.pk}").content.decode())
    assert "test.beta" in filtered and "test.alpha" not in filtered


@pytest.mark.parametrize("actor", ["admin_user", "uk_approver", "uk_staff"])
def test_the_audit_page_in_words_does_not_grow_queries_with_data(client, sign_in, request, actor, data):
    sign_in(client, request.getfixturevalue(actor))
    data(copies=1)
    client.get("/audit/")
    with CaptureQueriesContext(connection) as small:
        assert client.get("/audit/").status_code == 200
    data(copies=3, start=1)
    with CaptureQueriesContext(connection) as large:
        client.get("/audit/")
    assert len(large) == len(small)
