"""Partner viewers' notifications page (issue 11 item 8): their own notices only, the unread count on the link as for
staff, and links only to what they may see now (the current release of a finding released to them)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from evaluations.services import findings as services

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_partner_viewer_reads_their_release_notice_with_a_link_to_the_release_and_an_unread_count(
        partner_viewer, released, sign_in):  # the viewer exists before the release
    client = sign_in(Client(), partner_viewer)
    page = client.get("/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/findings/{released.pk}/"' in html
    assert f"A finding was released to your organisation (finding {released.pk}, version 1)." in _text(html)
    assert re.search(r"Notifications\s*1\s*unread", _text(client.get("/findings/").content.decode()))
    assert client.get(f"/findings/{released.pk}/").status_code == 200  # the link's target is theirs
    assert client.post("/notifications/").status_code == 302
    assert "unread" not in _text(client.get("/findings/").content.decode())


def test_after_withdrawal_no_notice_links_to_the_finding_and_other_partners_see_nothing(
        partner_viewer, other_partner_viewer, released, uk_approver, uk_staff, sign_in):
    services.finding_withdraw(actor=uk_approver, finding=released)
    html = sign_in(Client(), partner_viewer).get("/notifications/").content.decode()
    assert "was withdrawn" in html and "was released to your organisation" in html
    assert f"/findings/{released.pk}/" not in html  # it is a 404 for them now
    other = sign_in(Client(), other_partner_viewer).get("/notifications/").content.decode()
    assert "No notifications yet." in other and f"finding {released.pk}" not in other
    staff = sign_in(Client(), uk_staff).get("/notifications/").content.decode()
    assert f'href="/findings/{released.pk}/"' in staff  # staff still see the finding itself


def test_a_partner_viewer_never_sees_another_users_notices(partner_viewer, uk_staff, released, sign_in):
    from evaluations.models import Notification

    mine = set(Notification.objects.filter(user=partner_viewer).values_list("text", flat=True))
    theirs = set(Notification.objects.filter(user=uk_staff).values_list("text", flat=True))
    assert mine and theirs
    text = _text(sign_in(Client(), partner_viewer).get("/notifications/").content.decode())
    assert all(t in text for t in mine) and not any(t in text for t in theirs - mine)
