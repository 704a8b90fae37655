"""Matrix rows for search (issue 13): the page and the API answer every signed-in user (what they find is decided by
the access layer: tests/search/); anonymous users are sent to sign in (page) or get 401 (API)."""

from __future__ import annotations

from tests.permissions.matrix import API_ANON, UI_ANON, Row, expect

ROWS = [
    Row(route="search/", query=lambda ctx: "q=run", expect=expect.signed_in(200, anonymous=UI_ANON)),
    Row(route="search/", query=lambda ctx: "q=run&kind=sample", expect=expect.signed_in(200, anonymous=UI_ANON)),
    Row(route="search/", query=lambda ctx: "q=" + "x" * 300, expect=expect.signed_in(400, anonymous=UI_ANON)),
    Row(route="api/v1/search/", query=lambda ctx: "q=run", expect=expect.signed_in(200, anonymous=API_ANON)),
    Row(route="api/v1/search/", query=lambda ctx: "q=", expect=expect.signed_in(400, anonymous=API_ANON)),
]
