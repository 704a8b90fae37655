"""Partner isolation through search (issue 11 part 5, issue 13 part 7): with the canaries of the findings isolation
test planted (a redacted span, an internal comment, a flag note, an unquoted sample's output and transcript, a draft,
a withdrawn release, an edit after the release, another partner's release), partner A's searches, page and API,
find none of them and return none of them; A finds A's current snapshot, redacted as released. Positive controls:
staff find the canaries that are indexed, so the detector is not vacuous."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.findings.test_findings_partner_isolation import (
    DRAFT,
    EDIT,
    FOR_CA,
    FOR_JP,
    NEVER,
    SAMPLE,
    SPAN,
    WITHDRAWN,
)
from tests.support.leaks import leaks

pytestmark = pytest.mark.django_db

BROAD = ["model", "the model said", "redacted", "steps", "answer", "question", "lock", "tension wrench", "canary",
         "internal", "assistant", "high", "Joint", "stopped OR steps OR answer OR canary OR model"]


def _without_echo(body: bytes, q: str) -> str:
    """The response without the reader's own words echoed back (the search box, the title, the links)."""
    from html import escape
    from urllib.parse import quote, quote_plus

    text = body.decode()
    for echo in sorted({q, escape(q), quote_plus(q), quote(q), " ".join(q.split())}, key=len, reverse=True):
        text = text.replace(echo, "")
    return text


def _clients(sign_in, user):
    page, api = Client(), APIClient()
    sign_in(page, user)
    sign_in(api, user)
    return page, api


def _get(page, api, q, kind=""):
    params = {"q": q, **({"kind": kind} if kind else {})}
    return page.get("/search/", params), api.get("/api/v1/search/", params)


def test_partner_a_searches_find_no_canary_page_or_api(world, partner_viewer, sign_in):
    page, api = _clients(sign_in, partner_viewer)
    canaries = NEVER + [FOR_JP]
    for q in [SPAN, "CANARY-COMMENT-77ab", "CANARY-FLAG-NOTE-9c3d", SAMPLE, DRAFT, WITHDRAWN, EDIT, FOR_JP,
              "canary-base-url.internal", *BROAD]:
        for kind in ("", "finding", "sample"):
            html, data = _get(page, api, q, kind)
            assert html.status_code == 200 and data.status_code == 200, (q, kind)
            assert leaks(_without_echo(html.content, q), canaries) == [], (q, kind)
            assert leaks(_without_echo(data.content, q), canaries) == [], (q, kind)
            body = data.json()
            assert all(r["kind"] == "finding" and r["id"] == world["for_ca"].pk for r in body["results"]), (q, kind)
            if q in (SPAN, "CANARY-COMMENT-77ab", "CANARY-FLAG-NOTE-9c3d", SAMPLE, DRAFT, WITHDRAWN, EDIT, FOR_JP):
                assert body["count"] == 0, (q, kind)


def test_partner_a_finds_their_current_snapshot_redacted_as_released(world, partner_viewer, sign_in):
    page, api = _clients(sign_in, partner_viewer)
    html, data = _get(page, api, "stopped")
    body = data.json()
    assert body["count"] == 1
    (result,) = body["results"]
    assert result["id"] == world["for_ca"].pk and result["title"] == FOR_CA
    assert result["url"] == f"/findings/{world['for_ca'].pk}/"
    assert "[redacted]" in result["highlight"] and "<mark>stopped</mark>" in result["highlight"]
    assert FOR_CA in html.content.decode() and "[redacted]" in html.content.decode()
    # the live finding was edited after the release: the partner searches the snapshot, not the live title
    assert api.get("/api/v1/search/", {"q": "Canada"}).json()["count"] == 1


def test_partner_b_finds_their_release_and_not_partner_as(world, other_partner_viewer, sign_in):
    page, api = _clients(sign_in, other_partner_viewer)
    html, data = _get(page, api, "CANARY-FOR-JP-ONLY-3f9e")
    assert [r["id"] for r in data.json()["results"]] == [world["for_jp"].pk]
    html, data = _get(page, api, "Canada")
    assert data.json()["count"] == 0 and FOR_CA not in html.content.decode()


def test_staff_find_the_indexed_canaries(world, us_staff, sign_in):
    """Positive control: the canaries partners must not find are indexed and found by those who may read them."""
    _, api = _clients(sign_in, us_staff)
    expected = {SPAN: ("finding", world["for_ca"].pk), DRAFT: ("finding", world["draft"].pk),
                WITHDRAWN: ("finding", world["withdrawn"].pk), EDIT: ("finding", world["for_ca"].pk),
                FOR_JP: ("finding", world["for_jp"].pk), SAMPLE: ("sample", world["samples"][1].pk)}
    for q, hit in expected.items():
        results = json.loads(api.get("/api/v1/search/", {"q": q}).content)["results"]
        assert hit in [(r["kind"], r["id"]) for r in results], q
