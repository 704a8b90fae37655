"""List pages and API lists do a fixed number of queries whatever the number of rows (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit import audit_record
from tests.support.factories import ExerciseFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


def _queries(client, url):
    client.get(url)  # warm up: the first request of a session records it (usersessions)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    return len(captured)


def _add_exercises(n, institutes, partners):
    for _ in range(n):
        ExerciseFactory(institutes=institutes, partners=partners)


@pytest.mark.parametrize("url", ["/exercises/", "/api/v1/exercises/"])
@pytest.mark.parametrize("actor", ["uk_staff", "admin_user", "partner_viewer"])
def test_the_exercise_list_does_not_grow_queries_with_rows(client, sign_in, request, url, actor, uk_aisi, us_aisi,
                                                           partner_ca):
    user = request.getfixturevalue(actor)
    sign_in(client, user)
    extra = OrganisationFactory(name="Partner X", kind="partner", country_code="XX")
    _add_exercises(2, [uk_aisi, us_aisi], [partner_ca])
    small = _queries(client, url)
    _add_exercises(20, [uk_aisi, us_aisi], [partner_ca, extra])
    assert _queries(client, url) == small


@pytest.mark.parametrize("url", ["/audit/", "/api/v1/audit-events/", "/audit/export.csv"])
@pytest.mark.parametrize("actor", ["admin_user", "uk_approver", "uk_staff"])
def test_the_audit_list_does_not_grow_queries_with_rows(client, sign_in, request, url, actor, exercise):
    user = request.getfixturevalue(actor)
    sign_in(client, user)
    for i in range(2):
        audit_record(actor=user, action=f"test.{i}", exercise_id=exercise.pk)
    small = _queries(client, url)
    for i in range(30):
        audit_record(actor=user, action=f"test.more{i}", exercise_id=exercise.pk)
    assert _queries(client, url) == small


def test_the_people_and_invitation_pages_do_not_grow_queries_with_rows(client, sign_in, admin_user, uk_aisi):
    from accounts.services import invitation_create
    from tests.support.factories import UserFactory

    sign_in(client, admin_user)
    for i in range(2):
        UserFactory(organisation=uk_aisi)
        invitation_create(actor=admin_user, email=f"a{i}@example.org", organisation=uk_aisi, role="staff")
    small = (_queries(client, "/manage/users/"), _queries(client, "/manage/invitations/"))
    for i in range(15):
        UserFactory(organisation=uk_aisi)
        invitation_create(actor=admin_user, email=f"b{i}@example.org", organisation=uk_aisi, role="staff")
    assert (_queries(client, "/manage/users/"), _queries(client, "/manage/invitations/")) == small
