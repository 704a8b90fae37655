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
