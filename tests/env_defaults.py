"""Loaded with ``-p tests.env_defaults`` before Django is set up: environment defaults for the suite.

Values already in the environment win (CI sets DATABASE_URL, REDIS_URL and REQUIRE_SERVICES)."""

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

TEST_SECRET_KEY = "test-secret-key-not-for-production-3f6c1e0b9a7d4c2e8f1a5b6c7d8e9f00"
TEST_FIELD_KEY = "dGVzdC1maWVsZC1rZXktMDEyMzQ1Njc4OWFiY2RlZmc="

os.environ.setdefault("PORTAL_TESTING", "1")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", TEST_SECRET_KEY)
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", TEST_FIELD_KEY)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# A queue of the suite's own, so a `make run` worker on the same Redis never takes a test's task.
os.environ.setdefault("CELERY_QUEUE", f"test-{uuid.uuid4().hex[:12]}")
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{uuid.uuid4().hex[:8]}")
# A run's JSON is not kept between a test's requests (tests/runs/test_runs_api_cache.py turns it on).
os.environ.setdefault("RUNS_API_CACHE_SECONDS", "0")


def _per_xdist_worker() -> None:
    """Under pytest-xdist each worker gets its own queue, cache prefix and Redis database, as it gets its own test
    database from pytest-django: the workers inherit the controller's environment (its CELERY_QUEUE above), so
    without this two workers' Celery workers would take each other's tasks (each against the other's database),
    and a broadcast (readyz's ping: "no worker runs") would reach the other's workers. gw<N> uses REDIS_URL's
    database + N. xdist sets PYTEST_XDIST_WORKER before the worker loads this plugin."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not worker[2:].isdigit():
        return
    index = int(worker[2:])
    os.environ["CELERY_QUEUE"] = f"{os.environ['CELERY_QUEUE']}-{worker}"
    os.environ["CACHE_KEY_PREFIX"] = f"{os.environ['CACHE_KEY_PREFIX']}-{worker}"
    url = os.environ.get("REDIS_URL", "")
    if url and index:
        parts = urlsplit(url)
        base = int(parts.path.strip("/") or 0)
        os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{base + index}"))


_per_xdist_worker()
