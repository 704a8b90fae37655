"""A failed connection test reads as a plain reason with what to do (issue 12): no exception name or environment
variable for people; the technical detail only for portal admins."""

from __future__ import annotations

import pytest
from django.utils import timezone

from evaluations.models import ConnectionTest
from evaluations.selectors.registry import connection_test_reason
from tests.support.factories import model_version

pytestmark = pytest.mark.django_db

RAW = ("AuthenticationError: Error code: 401 - {'error': 'The LLAMACPP_API_KEY environment variable is not set'} "
       "Traceback (most recent call last): File \"/srv/inspect_ai/model/_providers/openai.py\"")


@pytest.mark.parametrize(("error", "words"), [
    ("No answer within 30 seconds.", "did not answer in time"),
    ("APIConnectionError: Connection error.", "could not reach the model's server"),
    ("NotFoundError: Error code: 404 - model_not_found", "does not know this model"),
    ("RateLimitError: Error code: 429", "limiting requests"),
    ("RuntimeError: something odd", "a portal admin can see why"),
    (RAW, "needs an API key"),
])
def test_each_kind_of_failure_has_a_plain_reason(error, words):
    reason = connection_test_reason(error=error)
    assert words in reason
    assert "Error" not in reason.split(" ")[0] and "_" not in reason


def test_people_see_the_reason_and_only_admins_the_detail(client, sign_in, uk_staff, admin_user, exercise):
    version = model_version(exercise=exercise, user=uk_staff, name="Local gemma")
    ConnectionTest.objects.create(registered_model=version.registered_model, model_version=version,
                                  status=ConnectionTest.Status.FAILED, error=RAW, requested_by=uk_staff,
                                  finished_at=timezone.now())
    url = f"/models/{version.registered_model.pk}/"
    sign_in(client, uk_staff)
    html = client.get(url).content.decode()
    assert "The model&#x27;s provider needs an API key and none is set." in html or "needs an API key" in html
    assert "LLAMACPP_API_KEY" not in html and "Traceback" not in html and "AuthenticationError" not in html
    sign_in(client, admin_user)
    admin_html = client.get(url).content.decode()
    assert "Technical detail (portal admins only)" in admin_html and "LLAMACPP_API_KEY" in admin_html
