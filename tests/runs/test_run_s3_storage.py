"""Run logs in an S3-compatible bucket (django-storages), against a real S3 server (moto's), and a real worker."""

from __future__ import annotations

import io
import socket
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from django.test import Client, override_settings
from django.urls import reverse
from moto.server import ThreadedMotoServer
from rest_framework.test import APIClient

from evaluations.models import Run, RunItem, SampleResult
from tests.runs.test_run_execution import approved_run, finished
from tests.support.helpers import sign_in
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BUCKET = "portal-run-logs"
KEY_ID = "testing-key"
SECRET = "testing-secret"  # noqa: S105 - moto accepts any credentials
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint):  # type: ignore[no-untyped-def]
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, aws_access_key_id=KEY_ID,
                          aws_secret_access_key=SECRET)
    client.create_bucket(Bucket=BUCKET)
    return client


def test_a_run_item_log_is_uploaded_to_the_bucket_and_served_from_it(
        settings, s3_endpoint, bucket, exercise, uk_staff, uk_approver, us_approver, tmp_path):
    s3_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": s3_endpoint, "region_name": REGION,
                    "access_key": KEY_ID, "secret_key": SECRET, "default_acl": None,
                    "querystring_auth": True, "file_overwrite": False},
    }
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    worker_env = {"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": REGION,
                  "S3_ACCESS_KEY_ID": KEY_ID, "S3_SECRET_ACCESS_KEY": SECRET,
                  # nothing may land in the media root when the bucket is the storage
                  "MEDIA_ROOT": str(tmp_path / "unused-media"), "TMPDIR": str(worker_tmp)}
    with override_settings(STORAGES={**settings.STORAGES, "default": s3_storage}):
        with celery_worker(extra_env=worker_env):
            run = approved_run(exercise=exercise, uk_staff=uk_staff, uk_approver=uk_approver,
                               us_approver=us_approver, args={"samples": 2})
            wait_for(finished(run, "succeeded", "failed", "partially_succeeded"), timeout=120,
                     message="the run to finish")
        item = run.items.get()
        assert run.state == Run.State.SUCCEEDED, item.error
        assert item.state == RunItem.State.SUCCEEDED
        assert SampleResult.objects.filter(item=item).count() == 2

        assert item.log_path.endswith(".eval") and item.log_path.startswith(f"run-logs/{run.pk}/{item.pk}/")
        stored = bucket.head_object(Bucket=BUCKET, Key=item.log_path)
        assert stored["ContentLength"] > 0
        keys = [entry["Key"] for entry in bucket.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        assert keys == [item.log_path]
        assert not any((tmp_path / "unused-media").rglob("*.eval"))
        assert not any(worker_tmp.rglob("*.eval")), "the worker's temporary copy of the log is removed"

        page = sign_in(Client(), uk_staff)
        response = page.get(reverse("run-item-log", kwargs={"pk": item.pk, "ext": "eval"}))
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        assert len(body) == stored["ContentLength"]
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert any(name.startswith("samples/") for name in archive.namelist())

        api = sign_in(APIClient(), uk_staff)
        response = api.get(reverse("api-run-item-log", kwargs={"pk": item.pk}), HTTP_RANGE="bytes=0-3")
        assert response.status_code == 206
        assert b"".join(response.streaming_content) == b"PK\x03\x04"
        response = api.get(reverse("api-run-item-log", kwargs={"pk": item.pk}))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == body
