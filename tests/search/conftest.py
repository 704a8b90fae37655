from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.findings.factories import risk_area
from tests.findings.test_findings_partner_isolation import world  # noqa: F401 (the canaries' world, a fixture)
from tests.runs.conftest import inspect_log  # noqa: F401 (a real Inspect log, a session fixture)


@pytest.fixture
def cyber(db):
    return risk_area()


@pytest.fixture
def api_for(sign_in):
    """``api_for(user)``: a DRF client with a session that passed MFA."""

    def make(user):
        client = APIClient()
        sign_in(client, user)
        return client

    return make
