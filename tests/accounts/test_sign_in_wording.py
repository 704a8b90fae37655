"""The allauth pages in GOV.UK style (issue 12): sentence case, and the re-authentication page says why it asks."""

from __future__ import annotations

import re

import pytest

from tests.support.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _headings(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", " ", h).strip() for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)]


def _title(html: str) -> str:
    return re.sub(r"\s+", " ", re.search(r"<title>(.*?)</title>", html, re.S).group(1)).strip()


def test_sign_in_page_is_in_sentence_case(client):
    html = client.get("/accounts/login/").content.decode()
    assert _title(html) == "Sign in – Joint Testing Portal"
    assert "Sign In" not in html


def test_sign_in_with_a_wrong_password_has_an_error_title(client, uk_staff):
    html = client.post("/accounts/login/", {"login": uk_staff.email, "password": "wrong"}).content.decode()
    assert _title(html).startswith("Error: Sign in")
    assert "There is a problem" in html


def test_two_factor_page_is_in_sentence_case(client, uk_staff):
    from tests.support.helpers import enrol_totp

    enrol_totp(uk_staff)
    client.post("/accounts/login/", {"login": uk_staff.email, "password": DEFAULT_PASSWORD})
    html = client.get("/accounts/2fa/authenticate/").content.decode()
    assert "Two-factor authentication" in _headings(html)
    assert "Two-Factor" not in html and "Sign In" not in html


def test_reauthentication_says_why_it_asks_and_for_what(client, sign_in, uk_approver, exercise):
    sign_in(client, uk_approver)
    html = client.get("/accounts/reauthenticate/?next=/runs/7/approve/").content.decode()
    assert "Confirm it is you" in _headings(html)
    assert "Confirm Access" not in html
    assert "To approve run 7, confirm it is you." in html
    assert "so nobody else can act for you" in html
    general = client.get("/accounts/reauthenticate/").content.decode()
    assert "Confirm it is you to carry on." in general
