"""Shared fixtures. Services are real: PostgreSQL and Redis (embedded or the machine's own)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings


def require_or_skip(reason: str) -> None:
    """A test that cannot reach a service fails under REQUIRE_SERVICES=1 and is skipped otherwise."""
    if os.environ.get("REQUIRE_SERVICES", "") in {"1", "true", "yes"}:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):  # type: ignore[no-untyped-def]
    """A test that failed in the middle of a query (pytest-timeout's SIGALRM) leaves its connection busy: drop it
    before the teardown uses it (tests/portal/test_interrupted_query.py)."""
    outcome = yield
    if outcome.excinfo is not None:
        from tests.support.connections import connections_drop_busy

        connections_drop_busy()


@pytest.fixture(scope="session")
def redis_client():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        require_or_skip(f"Redis at {settings.REDIS_URL}: {exc}")
    yield client
    client.close()


# --- Actors (named by who they are; see ROLES.md) -------------------------------------------------------
from tests.support.factories import ExerciseFactory, OrganisationFactory, UserFactory  # noqa: E402


@pytest.fixture
def uk_aisi(db):
    return OrganisationFactory(name="UK AISI", kind="institute", country_code="GB")


@pytest.fixture
def us_aisi(db):
    return OrganisationFactory(name="US AISI", kind="institute", country_code="US")


@pytest.fixture
def partner_ca(db):
    return OrganisationFactory(name="Partner Institute CA", kind="partner", country_code="CA")


@pytest.fixture
def partner_other(db):
    return OrganisationFactory(name="Partner Institute JP", kind="partner", country_code="JP")


@pytest.fixture
def exercise(uk_aisi, us_aisi, partner_ca):
    return ExerciseFactory(name="Joint Exercise Alpha", institutes=[uk_aisi, us_aisi], partners=[partner_ca])


@pytest.fixture
def uk_staff(uk_aisi):
    return UserFactory(email="uk.staff@example.org", organisation=uk_aisi, role="staff")


@pytest.fixture
def us_staff(us_aisi):
    return UserFactory(email="us.staff@example.org", organisation=us_aisi, role="staff")


@pytest.fixture
def uk_approver(uk_aisi):
    return UserFactory(email="uk.approver@example.org", organisation=uk_aisi, role="approver")


@pytest.fixture
def us_approver(us_aisi):
    return UserFactory(email="us.approver@example.org", organisation=us_aisi, role="approver")


@pytest.fixture
def admin_user(uk_aisi):
    return UserFactory(email="admin@example.org", organisation=uk_aisi, role="staff", is_portal_admin=True)


@pytest.fixture
def partner_viewer(partner_ca):
    return UserFactory(email="partner.viewer@example.org", organisation=partner_ca, role="partner_viewer")


@pytest.fixture
def other_partner_viewer(partner_other):
    return UserFactory(email="other.partner@example.org", organisation=partner_other, role="partner_viewer")


@pytest.fixture
def sign_in():
    """``sign_in(client, user)``: a browser session that has passed MFA. Tests use this, never force_login
    directly, so the MFA rules apply to every test the same way."""
    from tests.support.helpers import sign_in as _sign_in

    return _sign_in
