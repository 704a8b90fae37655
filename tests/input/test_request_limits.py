"""The portal-wide defences against malformed input (portal/middleware.py, portal/parsers.py, portal/forms.py):
control characters in query parameters and form fields, and JSON bodies or JSON form fields that are too deep, too
large or hold what PostgreSQL cannot store. Each is a 400 (413 for size) naming the parameter or field."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.test import Client, override_settings

from portal.forms import json_object_clean
from portal.parsers import JSONLimitError, json_loads
from tests.support.helpers import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(uk_staff, exercise):
    return sign_in(Client(), uk_staff)


@pytest.mark.parametrize("path", ["/models/", "/tasks/", "/runs/", "/audit/"])
def test_a_nul_in_a_page_query_parameter_is_a_400_naming_it(staff_client, path):
    response = staff_client.get(path, {"q": "gemma\x00"})
    assert response.status_code == 400
    assert "The query parameter q contains a NUL character" in response.content.decode()


@pytest.mark.parametrize("path", ["/api/v1/models/", "/api/v1/tasks/", "/api/v1/runs/", "/api/v1/audit-events/"])
def test_a_control_character_in_an_api_query_parameter_is_a_400_naming_it(staff_client, path):
    response = staff_client.get(path, {"status": "draft\x1b"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {"status": [body["detail"]]}
    assert "U+001B" in body["detail"]


def test_tab_and_newline_in_a_query_parameter_are_allowed(staff_client):
    assert staff_client.get("/models/", {"q": "a\tb\nc"}).status_code == 200


def test_a_nul_in_a_page_form_field_is_a_400_naming_it_and_saves_nothing(staff_client, exercise):
    from evaluations.models import RegisteredModel

    response = staff_client.post("/models/new/", {"name": "Gemma", "exercises": [exercise.pk],
                                                  "provider_model": "mockllm/model", "max_connections": "4",
                                                  "notes": "bad \x00 note"})
    assert response.status_code == 400
    assert "The field notes contains a NUL character" in response.content.decode()
    assert not RegisteredModel.objects.exists()


def _post_json(client, path, raw: str):
    return client.generic("POST", path, raw, content_type="application/json", HTTP_ACCEPT="application/json")


def test_a_json_body_nested_past_the_limit_is_a_400_naming_the_field(staff_client, exercise, settings):
    deep: object = 1
    for _ in range(settings.JSON_MAX_DEPTH + 1):
        deep = [deep]
    response = _post_json(staff_client, "/api/v1/models/", json.dumps({"name": "M", "config": deep}))
    assert response.status_code == 400
    assert "config" in response.json()["errors"]
    assert f"nested more than {settings.JSON_MAX_DEPTH} levels deep" in response.json()["errors"]["config"][0]


def test_a_json_body_nested_past_pythons_recursion_limit_is_a_400_not_a_500(staff_client):
    response = _post_json(staff_client, "/api/v1/runs/", "[" * 200_000 + "]" * 200_000)
    assert response.status_code == 400
    assert "nested more than" in response.json()["detail"]


@pytest.mark.parametrize(("value", "says"), [
    ({"stop_seqs": ["ok", "bad\x00"]}, "config.stop_seqs[1] contains a NUL character"),
    ({"bad\x07key": 1}, "config has a key that contains a control character (U+0007)"),
    ({"max_tokens": 10**30}, "config.max_tokens is a number too large to store"),
])
def test_what_postgresql_cannot_store_is_refused_in_any_json_body(staff_client, value, says):
    response = _post_json(staff_client, "/api/v1/models/", json.dumps({"name": "M", "config": value}))
    assert response.status_code == 400
    assert says in response.json()["errors"]["config"][0]


def test_json_constants_and_infinities_are_not_json(staff_client):
    response = _post_json(staff_client, "/api/v1/models/", '{"name": "M", "config": {"temperature": NaN}}')
    assert response.status_code == 400
    response = _post_json(staff_client, "/api/v1/models/", '{"name": "M", "config": {"temperature": 1e999}}')
    assert response.status_code == 400
    assert "not a finite number" in response.json()["errors"]["config"][0]


@override_settings(JSON_MAX_BYTES=2048)
def test_a_json_body_over_json_max_bytes_is_a_413(staff_client):
    response = _post_json(staff_client, "/api/v1/models/", json.dumps({"name": "M", "notes": "x" * 4096}))
    assert response.status_code == 413
    assert "larger than 2,048 bytes" in response.json()["detail"]


def test_a_multipart_field_with_a_nul_is_a_400_naming_it(staff_client, exercise):
    response = staff_client.post("/api/v1/runs/import/", {"exercise": f"{exercise.pk}\x00"},
                                 HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "exercise" in response.json()["errors"]


def test_a_json_form_field_is_held_to_the_same_limits():
    assert json_object_clean('{"top_k": 40}', example="{}") == {"top_k": 40}
    with pytest.raises(forms.ValidationError, match="nested more than"):
        json_object_clean('{"a": ' + "[" * 5000 + "]" * 5000 + "}", example="{}")
    with pytest.raises(forms.ValidationError, match="The value at a contains a NUL"):
        json_object_clean('{"a": "\\u0000"}', example="{}")
    with pytest.raises(forms.ValidationError, match="JSON object"):
        json_object_clean("[1]", example="{}")


def test_json_loads_names_the_path_of_the_bad_value():
    with pytest.raises(JSONLimitError) as caught:
        json_loads('{"a": [{"b": "\\u0000"}]}', root="args")
    assert caught.value.field == "args.a[0].b"


def test_a_view_may_allow_control_characters_in_named_fields_but_never_a_nul(rf):
    from django.http import HttpResponse

    from portal.middleware import QueryParameterMiddleware, control_characters_allowed

    @control_characters_allowed("evidence_*_excerpt")
    def view(request):
        return HttpResponse("ok")

    middleware = QueryParameterMiddleware(lambda request: HttpResponse("ok"))
    quoted = rf.post("/", {"evidence_1_excerpt": "\x1b[31mred\x1b[0m", "title": "t"})
    assert middleware.process_view(quoted, view, (), {}) is None
    nul = rf.post("/", {"evidence_1_excerpt": "a\x00b"})
    assert middleware.process_view(nul, view, (), {}).status_code == 400
    elsewhere = rf.post("/", {"title": "\x1b"})
    assert middleware.process_view(elsewhere, view, (), {}).status_code == 400
