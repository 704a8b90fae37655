"""A session's last activity (the profile page's list of sessions) is written at most once a minute per session and
client (accounts.middleware.UserSessionActivityMiddleware), not on every page as allauth's middleware did; a
session seen from another IP address or browser is written at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.usersessions.models import UserSession
from allauth.usersessions.signals import session_client_changed
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=3)


def _row(client) -> UserSession:
    return UserSession.objects.get(session_key=client.session.session_key)


def _back_date(client) -> None:
    UserSession.objects.filter(session_key=client.session.session_key).update(last_seen_at=LONG_AGO)


def _marks_expire() -> None:
    """What the interval's passing does: the sessions' marks in the cache are gone."""
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    for key in client.scan_iter(match="*usersession-seen:*"):
        client.delete(key)


def test_pages_within_the_interval_write_the_activity_once(client, sign_in, uk_staff):
    sign_in(client, uk_staff)
    _back_date(client)
    assert client.get("/").status_code == 200
    first = _row(client).last_seen_at
    assert first > LONG_AGO  # the first page of the session is recorded
    _back_date(client)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    assert _row(client).last_seen_at == LONG_AGO  # the second, a moment later, is not
    assert not any("usersessions_usersession" in q["sql"] for q in captured.captured_queries)


def test_another_ip_address_or_browser_is_written_at_once(client, sign_in, uk_staff):
    sign_in(client, uk_staff)
    client.get("/", REMOTE_ADDR="127.0.0.1", HTTP_USER_AGENT="browser A")
    changes = []

    def record(sender, request, from_session, to_session, **kwargs):
        changes.append((from_session.ip, to_session.ip, from_session.user_agent, to_session.user_agent))

    session_client_changed.connect(record)
    try:
        client.get("/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="browser A")
        assert _row(client).ip == "10.1.2.3"
        client.get("/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="browser B")
        assert _row(client).user_agent == "browser B"
    finally:
        session_client_changed.disconnect(record)
    assert changes == [("127.0.0.1", "10.1.2.3", "browser A", "browser A"),
                       ("10.1.2.3", "10.1.2.3", "browser A", "browser B")]


def test_after_the_interval_the_activity_is_written_again(client, sign_in, uk_staff):
    sign_in(client, uk_staff)
    client.get("/")
    _back_date(client)
    _marks_expire()
    client.get("/")
    assert _row(client).last_seen_at > LONG_AGO


def test_an_interval_of_zero_writes_every_page(client, sign_in, uk_staff, settings):
    settings.USERSESSION_ACTIVITY_SECONDS = 0
    sign_in(client, uk_staff)
    client.get("/")
    _back_date(client)
    client.get("/")
    assert _row(client).last_seen_at > LONG_AGO
