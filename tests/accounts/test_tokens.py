"""API tokens: hashed, scoped, expiring, revocable; bad tokens refused; no HTTP Basic."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def _get(client, token, path="/api/v1/me/"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_valid_token_authenticates_and_records_its_use(client, uk_staff):
    created = api_token_create(user=uk_staff, scope="read")
    assert _get(client, created.plain).json()["email"] == uk_staff.email
    assert ApiToken.objects.get().last_used_at is not None


def test_a_revoked_token_is_refused(client, uk_staff):
    created = api_token_create(user=uk_staff, scope="read")
    api_token_revoke(actor=uk_staff, token=created.token)
    response = _get(client, created.plain)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_an_expired_token_is_refused(client, uk_staff):
    created = api_token_create(user=uk_staff, scope="read")
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _get(client, created.plain).status_code == 401


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer a b", "Bearer jtp_", "Bearer jtp_x_y", "Bearer not-a-token", "Bearer jtp__", "Bearer \u00e9",
])
def test_a_malformed_token_is_refused(client, uk_staff, header):
    api_token_create(user=uk_staff, scope="read")
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_token_with_a_right_prefix_and_a_wrong_secret_is_refused(client, uk_staff):
    created = api_token_create(user=uk_staff, scope="read")
    assert _get(client, created.plain[:-3] + "abc").status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(client, uk_staff):
    created = api_token_create(user=uk_staff, scope="read")
    uk_staff.is_active = False
    uk_staff.save()
    assert _get(client, created.plain).status_code == 401


def test_a_read_scoped_token_is_refused_on_writes_with_a_clear_message(client, admin_user, uk_aisi, us_aisi):
    created = api_token_create(user=admin_user, scope="read")
    response = client.post("/api/v1/exercises/", {"name": "X", "institutes": [uk_aisi.pk, us_aisi.pk]},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {created.plain}")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_a_write_scoped_token_writes_without_csrf_or_re_authentication(client, admin_user, uk_aisi, us_aisi):
    created = api_token_create(user=admin_user, scope="write")
    response = client.post("/api/v1/exercises/", {"name": "X", "institutes": [uk_aisi.pk, us_aisi.pk]},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {created.plain}")
    assert response.status_code == 201


def test_a_partner_viewer_token_is_read_only(partner_viewer):
    with pytest.raises(PermissionDenied):
        api_token_create(user=partner_viewer, scope="write")
    assert api_token_create(user=partner_viewer, scope="read").token.scope == "read"


def test_the_plain_token_is_nowhere_in_the_database(client, sign_in, uk_staff):
    sign_in(client, uk_staff)
    plain = client.post("/api/v1/tokens/", {"scope": "write", "name": "ci"}, content_type="application/json").json()[
        "token"
    ]
    _get(client, plain)
    secret_part = plain.split("_", 2)[2]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(
                f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE %s OR t::text LIKE %s',  # noqa: S608
                [f"%{plain}%", f"%{secret_part}%"],
            )
            assert cursor.fetchone()[0] == 0, table


def test_http_basic_is_not_accepted(client, uk_staff):
    credentials = base64.b64encode(f"{uk_staff.email}:correct-horse-battery-staple-42".encode()).decode()
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_session_api_requires_csrf(sign_in, uk_staff):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    sign_in(client, uk_staff)
    response = client.post("/api/v1/tokens/", {"scope": "read"}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_users_list_and_revoke_only_their_own_tokens(client, sign_in, uk_staff, us_staff):
    mine = api_token_create(user=uk_staff, scope="read").token
    theirs = api_token_create(user=us_staff, scope="read").token
    sign_in(client, uk_staff)
    assert [t["id"] for t in client.get("/api/v1/tokens/").json()["results"]] == [mine.pk]
    assert client.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/v1/tokens/{mine.pk}/").status_code == 204
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None


def test_create_api_token_prints_a_working_token_once(client, uk_staff, capsys):
    call_command("create_api_token", "--email", uk_staff.email, "--scope", "read", "--days", "3")
    plain = capsys.readouterr().out.strip()
    assert plain.startswith("jtp_")
    token = ApiToken.objects.get()
    assert token.scope == "read" and token.expires_at < timezone.now() + timedelta(days=3, minutes=1)
    assert _get(client, plain).status_code == 200


def test_create_api_token_refuses_a_write_token_for_a_partner(partner_viewer):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="read-only"):
        call_command("create_api_token", "--email", partner_viewer.email, "--scope", "write")
