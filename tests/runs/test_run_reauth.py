"""Re-authentication on the sensitive actions of runs and model credentials: a browser session whose last
authentication is older than ACCOUNT_REAUTHENTICATION_TIMEOUT is sent to re-authenticate (UI) or refused with 403
"Re-authentication required" (API); a write-scoped API token is not asked."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from evaluations.models import ModelCredential, Run
from evaluations.services.registry import model_create
from tests.support.helpers import bearer_headers, sign_in

pytestmark = pytest.mark.django_db


def stale() -> float:
    return time.time() - settings.ACCOUNT_REAUTHENTICATION_TIMEOUT - 60


def sent_to_reauthenticate(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_stale_session_is_sent_to_reauthenticate_before_deciding_a_run_in_the_ui(
        client, submitted_run, uk_approver, action):
    sign_in(client, uk_approver, authenticated_at=stale())
    assert sent_to_reauthenticate(client.get(f"/runs/{submitted_run.pk}/{action}/"))
    response = client.post(f"/runs/{submitted_run.pk}/{action}/", {"reason": "not now"})
    assert sent_to_reauthenticate(response)
    submitted_run.refresh_from_db()
    assert submitted_run.state == Run.State.SUBMITTED and not submitted_run.approvals.exists()


def test_a_fresh_session_approves_in_the_ui(client, submitted_run, uk_approver):
    sign_in(client, uk_approver)
    response = client.post(f"/runs/{submitted_run.pk}/approve/", {"revision": submitted_run.revision})
    assert response.status_code == 302 and not sent_to_reauthenticate(response)
    assert submitted_run.approvals.filter(approver=uk_approver).exists()


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_stale_api_session_gets_403_reauthentication_required_and_a_write_token_does_not(
        submitted_run, uk_approver, action):
    api = sign_in(APIClient(), uk_approver, authenticated_at=stale())
    response = api.post(f"/api/v1/runs/{submitted_run.pk}/{action}/", {"reason": "no"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Re-authentication required")
    submitted_run.refresh_from_db()
    assert submitted_run.state == Run.State.SUBMITTED and not submitted_run.approvals.exists()

    response = APIClient().post(f"/api/v1/runs/{submitted_run.pk}/{action}/", {"reason": "no"}, format="json",
                                **bearer_headers(uk_approver, "write"))
    assert response.status_code == 200, response.json()
    assert submitted_run.approvals.filter(approver=uk_approver).exists()


def test_an_approver_without_the_right_still_gets_403_forbidden_not_a_reauth_prompt(submitted_run, uk_staff):
    api = sign_in(APIClient(), uk_staff, authenticated_at=stale())
    response = api.post(f"/api/v1/runs/{submitted_run.pk}/approve/")
    assert response.status_code == 403 and "Re-authentication" not in response.json()["detail"]


@pytest.fixture
def registered(uk_staff, exercise):  # type: ignore[no-untyped-def]
    return model_create(user=uk_staff, name="Keyed model", exercises=[exercise], provider_model="mockllm/model")


def test_setting_a_credential_in_the_ui_needs_a_recent_authentication(client, registered, uk_staff, exercise):
    sign_in(client, uk_staff, authenticated_at=stale())
    assert sent_to_reauthenticate(client.post(f"/models/{registered.pk}/credential/", {"api_key": "sk-new"}))
    assert sent_to_reauthenticate(client.post(f"/models/{registered.pk}/credential/", {"action": "clear"}))
    assert sent_to_reauthenticate(client.post("/models/new/", {
        "name": "Another", "exercises": [exercise.pk], "provider_model": "mockllm/model", "max_connections": 1,
        "api_key": "sk-new"}))
    assert not ModelCredential.objects.exists()
    # the page itself still shows; a fresh session saves the key
    assert client.get(f"/models/{registered.pk}/credential/").status_code == 200
    client.logout()
    sign_in(client, uk_staff)
    response = client.post(f"/models/{registered.pk}/credential/", {"api_key": "sk-new"})
    assert response.status_code == 302 and not sent_to_reauthenticate(response)
    assert ModelCredential.objects.filter(registered_model=registered).exists()


def test_setting_a_credential_through_the_api_needs_a_recent_authentication_or_a_write_token(
        registered, uk_staff, exercise):
    api = sign_in(APIClient(), uk_staff, authenticated_at=stale())
    for response in (
        api.patch(f"/api/v1/models/{registered.pk}/", {"api_key": "sk-new"}, format="json"),
        api.post("/api/v1/models/", {"exercise": exercise.pk, "name": "Another", "model": "mockllm/model",
                                     "api_key": "sk-new"}, format="json"),
        api.delete(f"/api/v1/models/{registered.pk}/credential/"),
    ):
        assert response.status_code == 403
        assert response.json()["detail"].startswith("Re-authentication required")
    assert not ModelCredential.objects.exists()
    # a change without a key needs no re-authentication
    assert api.patch(f"/api/v1/models/{registered.pk}/", {"notes": "n"}, format="json").status_code == 200
    response = APIClient().patch(f"/api/v1/models/{registered.pk}/", {"api_key": "sk-new"}, format="json",
                                 **bearer_headers(uk_staff, "write"))
    assert response.status_code == 200, response.json()
    assert ModelCredential.objects.filter(registered_model=registered).exists()
