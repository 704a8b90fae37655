"""List endpoints cost the same number of queries with 2 and with 6 findings (institutes and partners)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from evaluations.models import Finding
from evaluations.services import findings as services
from tests.findings.factories import finding_data
from tests.support.helpers import bearer_headers

pytestmark = pytest.mark.django_db


def _released(exercise: Any, run: Any, author: Any, approvers: list[Any], partner: Any, title: str) -> None:
    finding = services.finding_create(actor=author, exercise=exercise, data=finding_data(run, title=title))
    services.finding_submit(actor=author, finding=finding)
    for approver in approvers:
        services.finding_sign_off(actor=approver, finding=finding)
    services.finding_release(actor=approvers[0], finding=finding, partners=[partner.pk])


def _count(client: Client, url: str, headers: dict[str, str]) -> int:
    client.get(url, **headers)  # warm the session and token caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("reader", ["us_staff", "partner_viewer"])
def test_the_findings_and_releases_lists_cost_the_same_with_2_and_6_findings(request, client, reader, exercise, run,
                                                                            uk_staff, uk_approver, us_approver,
                                                                            partner_ca, sign_in):
    user = request.getfixturevalue(reader)
    headers = {} if reader == "partner_viewer" else bearer_headers(user, scope="read")
    if reader == "partner_viewer":
        sign_in(client, user)
    counts = []
    for size in (2, 6):
        while Finding.objects.count() < size:
            _released(exercise, run, uk_staff, [uk_approver, us_approver], partner_ca,
                      f"Finding {Finding.objects.count() + 1}")
        counts.append((_count(client, "/api/v1/findings/", headers), _count(client, "/api/v1/releases/", headers),
                       _count(client, "/api/v1/findings/?format=csv", headers)))
    assert counts[0] == counts[1], counts
