"""Database connections a test left unusable."""

from __future__ import annotations

import contextlib

from django.db import connections


def connections_drop_busy() -> list[str]:
    """Close this thread's database connections that are still inside a command (psycopg's ACTIVE state), after
    an exception raised by a signal handler (pytest-timeout's SIGALRM, Celery's soft time limit) interrupted a
    query: psycopg leaves such a connection busy, and the next command on it fails with "another command is
    already in progress". The query is cancelled in the server first. Returns the aliases closed."""
    from psycopg.pq import TransactionStatus

    closed = []
    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is None or raw.closed or raw.info.transaction_status != TransactionStatus.ACTIVE:
            continue
        with contextlib.suppress(Exception):
            raw.cancel_safe(timeout=5)
        conn.close()
        closed.append(conn.alias)
    return closed
