"""seed_demo and its contract (CONTRACT.md)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from accounts.models import Organisation, User
from evaluations.models import Exercise

pytestmark = pytest.mark.django_db

EMAILS = {"uk.staff@example.org", "us.staff@example.org", "uk.approver@example.org", "us.approver@example.org",
          "admin@example.org", "partner.viewer@example.org"}


def _seed(*args):
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_json_prints_one_object_with_the_accounts(settings):
    settings.DEMO_PASSWORD = "demo-password-for-tests"
    settings.DEBUG = True
    payload = json.loads(_seed("--json"))
    assert set(payload) == {"url", "password", "accounts"}
    assert payload["password"] == "demo-password-for-tests"
    assert {a["email"] for a in payload["accounts"]} == EMAILS
    assert all(a["totp_secret"] for a in payload["accounts"])
    assert {a["organisation"] for a in payload["accounts"]} == {"UK AISI", "US AISI", "Partner Institute CA"}
    admin = User.objects.get(email="admin@example.org")
    assert admin.is_portal_admin and admin.is_staff and admin.organisation.name == "UK AISI"
    assert admin.check_password("demo-password-for-tests")


def test_seed_demo_is_idempotent_and_keeps_totp_secrets(settings):
    settings.DEBUG = True
    first = json.loads(_seed("--json"))
    second = json.loads(_seed("--json"))
    assert User.objects.count() == 6 and Organisation.objects.count() == 3 and Exercise.objects.count() == 1
    assert [a["totp_secret"] for a in first["accounts"]] == [a["totp_secret"] for a in second["accounts"]]
    assert first["password"] != second["password"]  # no DEMO_PASSWORD: a new random one each run, printed
    assert User.objects.get(email="uk.staff@example.org").check_password(second["password"])
    exercise = Exercise.objects.get()
    assert {o.name for o in exercise.institutes.all()} == {"UK AISI", "US AISI"}
    assert [o.name for o in exercise.partners.all()] == ["Partner Institute CA"]


def test_seed_demo_outside_debug_enrols_no_totp(settings):
    settings.DEBUG = False
    payload = json.loads(_seed("--json"))
    assert all(a["totp_secret"] is None for a in payload["accounts"])
    from allauth.mfa.models import Authenticator

    assert not Authenticator.objects.exists()


def test_the_seeded_partner_viewer_sees_the_demo_exercise(client, sign_in, settings):
    _seed()
    sign_in(client, User.objects.get(email="partner.viewer@example.org"))
    assert client.get("/api/v1/exercises/").json()["count"] == 1
