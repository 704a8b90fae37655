"""An item's error as people read it (issue 12 part 6): a plain reason with what to do, never an exception name, an
environment variable or a stack trace; the technical detail stays for portal admins (page and API), as for the
connection test."""

from __future__ import annotations

import pytest
from django.test import Client

from evaluations.models import Run, RunItem
from evaluations.selectors.runs import ITEM_ERROR_FALLBACK, run_item_error_reason
from tests.support.helpers import bearer_headers

pytestmark = pytest.mark.django_db

# (stored error, words of the plain reason)
TECHNICAL = [
    ("PrerequisiteError: OPENAI_API_KEY environment variable not set (task 'arithmetic', model 'openai/gpt-4o')",
     "needs an API key"),
    ("AuthenticationError: Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-***'}}",
     "refused the API key"),
    ("RateLimitError: Error code: 429 - quota exceeded", "limited the requests"),
    ("APIConnectionError: Connection error. httpx.ConnectError: [Errno 111] Connection refused", "could not reach"),
    ("The model endpoint is not allowed: 10.0.0.5 is a private address", "may not connect"),
    ("NotFoundError: Error code: 404 - model_not_found", "does not know this model"),
    ("Traceback (most recent call last): File \"/srv/x.py\", line 3, in <module> ValueError: bad", "The evaluation failed"),
    ("the evaluation wrote no log", "before it wrote a log"),
]
PLAIN = ["The run's token budget (1000) was reached.", "The worker running this item stopped; it was queued again."]


@pytest.mark.parametrize(("error", "words"), TECHNICAL)
def test_a_technical_error_reads_as_a_plain_reason_without_names_or_traces(error, words):
    reason = run_item_error_reason(error=error)
    assert words in reason
    for technical in ("_API_KEY", "Error:", "Traceback", "environment variable", "httpx", "sk-", "File \""):
        assert technical not in reason
    assert reason.endswith(".")


@pytest.mark.parametrize("error", PLAIN)
def test_the_portals_own_messages_are_shown_as_they_are(error):
    assert run_item_error_reason(error=error) == error


def test_no_error_reads_as_nothing_and_an_unknown_one_as_the_fallback():
    assert run_item_error_reason(error="") == ""
    assert run_item_error_reason(error="KeyError: 'x'") == ITEM_ERROR_FALLBACK


@pytest.fixture
def failed_item(submitted_run):
    error, _ = TECHNICAL[0]
    item = submitted_run.items.get()
    RunItem.objects.filter(pk=item.pk).update(state="failed", error=error)
    Run.objects.filter(pk=submitted_run.pk).update(state="failed")
    return item


@pytest.mark.parametrize(("actor", "sees_detail"), [("uk_staff", False), ("us_approver", False), ("admin_user", True)])
def test_the_run_page_and_the_api_give_the_reason_and_only_admins_the_detail(request, sign_in, failed_item, actor,
                                                                              sees_detail):
    user = request.getfixturevalue(actor)
    page = sign_in(Client(), user).get(f"/runs/{failed_item.run_id}/").content.decode()
    assert "needs an API key and none is set" in page
    assert ("OPENAI_API_KEY" in page) == sees_detail
    assert ("Technical detail (portal admins only)" in page) == sees_detail
    body = Client().get(f"/api/v1/runs/{failed_item.run_id}/", **bearer_headers(user, scope="read")).json()
    (item,) = body["items"]
    assert "needs an API key" in item["error"] and "OPENAI_API_KEY" not in item["error"]
    assert (item["error_detail"] is not None and "OPENAI_API_KEY" in item["error_detail"]) == sees_detail
