"""The portal's ApplicationError is mapped to HTTP in one place for each face: the API's exception handler and,
for the pages, ApplicationErrorMiddleware (the GOV.UK error page with the message)."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.test import APIRequestFactory

from portal.api import exception_handler
from portal.errors import Conflict, TooLarge
from portal.middleware import ApplicationErrorMiddleware


def _middleware() -> ApplicationErrorMiddleware:
    return ApplicationErrorMiddleware(lambda request: HttpResponse("ok"))


def test_a_page_that_lets_an_application_error_escape_answers_its_status_with_the_message(db):
    request = RequestFactory().get("/runs/1/")
    response = _middleware().process_exception(request, Conflict("The run changed since you read it."))
    assert response is not None and response.status_code == 409
    assert "The run changed since you read it." in response.content.decode()
    too_large = _middleware().process_exception(request, TooLarge("The file is too large."))
    assert too_large is not None and too_large.status_code == 413


def test_other_exceptions_are_left_to_django():
    assert _middleware().process_exception(RequestFactory().get("/"), ValueError("x")) is None


def test_the_api_answers_an_application_error_as_json_with_its_status():
    request = APIRequestFactory().post("/api/v1/runs/1/approve/")
    response = exception_handler(Conflict("Your institute has already approved this."), {"request": request})
    assert response is not None and response.status_code == 409
    assert response.data == {"detail": "Your institute has already approved this."}
