"""Settings: each bad value stops start-up with a message that says what is wrong and what to set.

Each case starts a fresh interpreter with a controlled environment (no inherited settings) and runs
``django.setup()``; the message must appear on stderr and the exit status must be non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.env_defaults import TEST_FIELD_KEY

BASE_DIR = Path(__file__).resolve().parents[2]
GOOD_SECRET = "x8Jq2vN4pR7tW1yZ3bD6fH9kM0nP5sU8wA2cE4gI6lO9qT1vX3zB5dF7hJ0kL2nQ"

GOOD_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": GOOD_SECRET,
    "FIELD_ENCRYPTION_KEYS": TEST_FIELD_KEY,
    "DATABASE_URL": "postgresql://portal@127.0.0.1:5432/portal",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "portal.example.org",
}


def start_django(overrides: dict[str, str | None], *, command: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "DJANGO_SETTINGS_MODULE": "portal.settings", "PYTHONPATH": str(BASE_DIR)}
    env.update(GOOD_ENV)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        command or [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )


def test_good_production_like_settings_start():
    result = start_django({})
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"DATABASE_URL": "mysql://portal@db/portal"}, "DATABASE_URL must be a URL starting with postgres://",
                     id="database-url-bad-scheme"),
        pytest.param({"DATABASE_URL": "postgresql://portal@db:54x2/portal"}, "DATABASE_URL has a malformed port number",
                     id="database-url-malformed-port"),
        pytest.param({"REDIS_URL": "http://127.0.0.1:6379/0"}, "REDIS_URL must be a URL starting with redis://",
                     id="redis-url-bad-scheme"),
        pytest.param({"REDIS_URL": "redis://127.0.0.1:99999999/0"}, "REDIS_URL has a malformed port number",
                     id="redis-url-malformed-port"),
        pytest.param({"SECRET_KEY": None}, "SECRET_KEY is not set: set SECRET_KEY", id="secret-key-missing"),
        pytest.param({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS is not set: set it",
                     id="field-encryption-keys-missing"),
        pytest.param({"FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"},
                     "FIELD_ENCRYPTION_KEYS: key number 1 is not a valid Fernet key", id="fernet-key-invalid"),
        pytest.param({"FIELD_ENCRYPTION_KEYS": f"{TEST_FIELD_KEY},short"},
                     "FIELD_ENCRYPTION_KEYS: key number 2 is not a valid Fernet key", id="second-fernet-key-invalid"),
        pytest.param({"CELERY_TASK_TIME_LIMIT": "abc"}, "CELERY_TASK_TIME_LIMIT='abc' is not a whole number",
                     id="integer-malformed"),
        pytest.param({"PORT": "70000"}, "PORT=70000 is above the maximum of 65535", id="port-out-of-range"),
        pytest.param({"SEARCH_RANK_MAX": "0"}, "SEARCH_RANK_MAX=0 is below the minimum of 1", id="search-rank-max-zero"),
        pytest.param({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean", id="boolean-malformed"),
        pytest.param({"REQUIRE_SERVICES": "sometimes"}, "REQUIRE_SERVICES='sometimes' is not a boolean",
                     id="require-services-malformed"),
        pytest.param({"CELERY_TASK_TIME_LIMIT": "600", "CELERY_VISIBILITY_TIMEOUT": "600"},
                     "CELERY_VISIBILITY_TIMEOUT (600s) must be longer than CELERY_TASK_TIME_LIMIT (600s)",
                     id="visibility-timeout-not-above-hard-limit"),
        pytest.param({"S3_BUCKET": "logs"}, "S3_BUCKET is set but S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are not",
                     id="s3-bucket-without-credentials"),
        pytest.param({"S3_BUCKET": "logs", "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s",
                      "S3_ENDPOINT_URL": "ftp://minio:9000"}, "S3_ENDPOINT_URL must be a URL starting with http://",
                     id="s3-endpoint-bad-scheme"),
        pytest.param({"CELERY_TASK_TIME_LIMIT": "600", "CELERY_TASK_SOFT_TIME_LIMIT": "600"},
                     "CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT", id="soft-limit-not-below-hard"),
    ],
)
def test_bad_setting_stops_start_up_with_a_clear_message(overrides, message):
    result = start_django(overrides)
    assert result.returncode != 0, f"started despite {overrides}"
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr, result.stderr[-2000:]


def test_database_url_unset_says_how_to_get_one():
    result = start_django({"DATABASE_URL": None})
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr
    assert "make run" in result.stderr


def test_missing_secrets_are_allowed_in_debug_only():
    result = start_django({"DEBUG": "1", "SECRET_KEY": None, "FIELD_ENCRYPTION_KEYS": None})
    assert result.returncode == 0, result.stderr


def test_manage_py_check_also_refuses_a_bad_value():
    result = start_django({"CELERY_TASK_TIME_LIMIT": "abc"}, command=[sys.executable, "manage.py", "check"])
    assert result.returncode != 0
    assert "CELERY_TASK_TIME_LIMIT='abc' is not a whole number" in result.stderr


def test_check_deploy_passes_with_production_like_settings():
    """`manage.py check --deploy --fail-level WARNING` with DEBUG off, a real-looking key, HTTPS settings on."""
    result = start_django(
        {"SECURE_SSL_REDIRECT": None, "SESSION_COOKIE_SECURE": None, "CSRF_COOKIE_SECURE": None,
         "SECURE_HSTS_SECONDS": None},
        command=[sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_s3_bucket_makes_the_default_storage_an_s3_storage():
    code = ("import django; django.setup(); from django.core.files.storage import storages; "
            "s = storages['default']; "
            "print(type(s).__name__, s.bucket_name, s.endpoint_url, s.file_overwrite, s.default_acl, s.querystring_auth)")
    result = start_django({"S3_BUCKET": "logs", "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s",
                           "S3_ENDPOINT_URL": "https://minio.example.org:9000"},
                          command=[sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["S3Storage", "logs", "https://minio.example.org:9000", "False", "None", "True"]
