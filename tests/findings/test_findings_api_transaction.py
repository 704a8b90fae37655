"""The findings actions' refusals keep the caller's transaction usable (issue 14, the in-process schemathesis run):
a path id no finding can have (a NUL, out of bigint's range, not a number) is a 404, and a body value PostgreSQL
cannot take (a NUL, an integer out of bigint's range) a 4xx, each followed by another query in the same
transaction, as the schemathesis test and the permission matrix run their requests.

What it found: a write token's POST is audited before the view runs (``token.write``, with the request's path), and
a NUL in the path (``/api/v1/findings/%00/submit/``) failed that insert (jsonb holds no ``\\u0000``): a 500 instead
of the 404. The audit trail now keeps a NUL as the text ``\\x00`` (portal/audit.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from evaluations.models import Finding
from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from tests.support.helpers import bearer_headers

pytestmark = pytest.mark.django_db

ACTIONS = ["request-changes", "sign-off", "submit", "withdraw", "release", "reproduce", "comments"]
MISSING_IDS = ["100", "-1", "0", "9223372036854775808", "-9223372036854775809", "99999999999999999999999999",
               "1e3", "%00", "1%00", "%EF%BC%91"]  # the last: a full-width digit one
BODIES: dict[str, list[dict[str, Any]]] = {  # each action's own fields
    "request-changes": [{"reason": "a\x00b"}, {"reason": "x" * 20_000}],
    "sign-off": [{"revision": 2**63}, {"revision": -(2**63) - 1}],
    "withdraw": [{"version": 2**70}, {"version": -(2**70)}],
    "release": [{"partners": [2**63]}, {"partners": [-(2**64)]}],
    "reproduce": [{"evidence": 2**63}, {"evidence": -(2**63) - 1}],
    "comments": [{"body": "\x00"}],
}


def _intact() -> None:
    assert not connection.needs_rollback, f"the transaction is broken: {connection.rollback_exc!r}"
    assert Finding.objects.count() >= 0  # another query in the same transaction


@pytest.mark.parametrize("action", ACTIONS)
def test_a_path_id_no_finding_has_is_a_404_and_the_transaction_stays_usable(client, uk_staff, action):
    headers = bearer_headers(uk_staff)
    for pk in MISSING_IDS:
        response = client.post(f"/api/v1/findings/{pk}/{action}/", {}, content_type="application/json", **headers)
        assert response.status_code == 404, (pk, response.status_code, response.content[:300])
        assert response.json() == {"detail": "Not found."}
        _intact()


def test_a_nul_in_the_path_of_a_token_write_is_audited_as_text(client, uk_staff):
    response = client.post("/api/v1/findings/%00/submit/", {}, content_type="application/json",
                           **bearer_headers(uk_staff))
    assert response.status_code == 404
    event = AuditEvent.objects.filter(action="token.write").latest("id")
    assert event.after["path"] == "/api/v1/findings/\\x00/submit/"
    assert audit_chain_verify().ok


@pytest.mark.parametrize("action", sorted(BODIES))
def test_body_values_postgresql_cannot_take_are_a_4xx_and_the_transaction_stays_usable(client, uk_staff,
                                                                                       uk_approver, in_review,
                                                                                       action):
    headers = bearer_headers(uk_approver if action in ("sign-off", "request-changes") else uk_staff)
    for pk in ("100", str(in_review.pk)):
        for body in BODIES[action]:
            response = client.post(f"/api/v1/findings/{pk}/{action}/", body, content_type="application/json",
                                   **headers)
            assert 400 <= response.status_code < 500, (pk, body, response.status_code, response.content[:300])
            assert isinstance(response.json().get("detail"), str)
            _intact()
