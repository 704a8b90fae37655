"""A query interrupted by an exception raised from a signal handler leaves psycopg's connection busy: the next
command on it fails with "another command is already in progress". That is the flaky error seen once in the
suite: pytest-timeout (SIGALRM) ended a slow fault test in the middle of a poll of the database, then
pytest-django's teardown (the flush of a transactional test) ran on the same connection. tests/conftest.py now
drops such a connection once a test has failed (``connections_drop_busy``), so the teardown reconnects. (Django's
connections are per thread and psycopg 3 serialises the commands of a shared one, so threads are not the cause.)"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection

from tests.support.connections import connections_drop_busy


class Interrupted(Exception):
    pass


@contextmanager
def interrupted_after(seconds: float) -> Iterator[None]:
    """Raise ``Interrupted`` from a SIGALRM handler after ``seconds`` (as pytest-timeout's signal method does)."""

    def handler(signum, frame):  # type: ignore[no-untyped-def]
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def select_one() -> object:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_a_query_interrupted_by_a_signal_leaves_the_connection_busy_until_it_is_dropped():
    select_one()
    with pytest.raises(Interrupted), interrupted_after(0.3), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(5)")
    with pytest.raises(OperationalError, match="another command is already in progress"):
        select_one()
    assert connections_drop_busy() == ["default"]
    assert select_one() == (1,)
    assert connections_drop_busy() == [], "an idle connection is kept"
