"""Leak detectors of the credential canary tests: a secret in a text, in any column of any table, on the Celery
queue."""

import base64
import json

from django.conf import settings
from django.db import connection


def leaks(text, canaries):
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return [c for c in canaries if c in text]


def database_leaks(canaries):
    """Every text, json and bytea column of every table in the public schema."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea',
                                                            'character')
        """)
        columns = cursor.fetchall()
        assert len(columns) > 20
        for table, column, data_type in columns:
            for canary in canaries:
                if data_type == "bytea":
                    sql = f'SELECT count(*) FROM "{table}" WHERE position(%s::bytea in "{column}") > 0'  # noqa: S608
                    cursor.execute(sql, [canary.encode()])
                else:
                    sql = f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s'  # noqa: S608
                    cursor.execute(sql, [f"%{canary}%"])
                if cursor.fetchone()[0]:
                    found.append((table, column, canary))
    return found


def queue_leaks(redis_client, canaries):
    """Raw messages on the suite's Celery queue, and their decoded bodies."""
    messages = redis_client.lrange(settings.CELERY_TASK_DEFAULT_QUEUE, 0, -1)
    assert messages, "expected queued connection-test messages"
    found = []
    for raw in messages:
        envelope = json.loads(raw)
        body = base64.b64decode(envelope["body"])
        found += leaks(raw, canaries) + leaks(body, canaries)
        args, kwargs, _ = json.loads(body)
        assert all(isinstance(a, int) for a in args) and not kwargs  # ids only
    return found


