"""Shared fixtures and helpers of the registry/catalogue tests (imported by the test_registry_* and
test_catalogue_* modules; holds no tests itself)."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.support.factories import ExerciseFactory
from tests.support.http import JsonHandler


@pytest.fixture
def other_exercise(uk_aisi):
    """An exercise only UK AISI takes part in."""
    return ExerciseFactory(name="UK-only Exercise", institutes=[uk_aisi])


def api_client_for(user: Any, sign_in: Any) -> APIClient:
    client = APIClient()
    sign_in(client, user)
    return client


def model_payload(exercise: Any, **extra: Any) -> dict[str, Any]:
    payload = {"exercise": exercise.pk, "name": "Gemma local", "model": "openai-api/local/gemma",
               "base_url": "https://models.example.org/v1", "max_connections": 2,
               "config": {"temperature": 0.0, "max_tokens": 32}}
    payload.update(extra)
    return payload


def make_model(user: Any, exercise: Any, **extra: Any) -> Any:
    from evaluations.services.registry import model_create

    values = {"name": "Gemma local", "exercises": [exercise], "provider_model": "openai-api/local/gemma",
              "base_url": "https://models.example.org/v1", "config": {"temperature": 0.0}}
    values.update(extra)
    return model_create(user=user, **values)


def make_registry_task(user: Any, exercise: Any, name: str = "Arithmetic", **extra: Any) -> Any:
    from evaluations.services.catalogue import task_create_registry

    return task_create_registry(user=user, name=name, exercises=[exercise], registry_name="arithmetic",
                                args=extra.pop("args", {"limit": 3}), **extra)


class _OpenAIHandler(JsonHandler):
    """A tiny OpenAI-compatible server: /v1/chat/completions and /v1/completions, with usage."""

    seen_auth: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        type(self).seen_auth.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") != f"Bearer {self.server.expected_key}":  # type: ignore[attr-defined]
            self._send(401, {"error": {"message": "Incorrect API key provided: "
                                                  f"{self.headers.get('Authorization', '')[7:]}",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        usage = {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}
        model = body.get("model", "tiny")
        if self.path.endswith("/chat/completions"):
            self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": "OK"}}], "usage": usage})
        elif self.path.endswith("/completions"):
            self._send(200, {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": model,
                             "choices": [{"index": 0, "text": " OK", "finish_reason": "stop", "logprobs": None}],
                             "usage": usage})
        else:
            self._send(404, {"error": {"message": "not found"}})

@pytest.fixture
def openai_server():
    """(base_url, expected_key) of a real OpenAI-compatible HTTP server on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIHandler)
    server.expected_key = "sk-test-server-key-0123456789"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.expected_key  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def errors_of(response: Any) -> str:
    """The error messages on a rendered form page (for assertion messages)."""
    import re

    body = response.content.decode()
    found = re.findall(r'class="govuk-error-message">(.*?)</p>', body, flags=re.S)
    found += re.findall(r'govuk-error-summary__list">(.*?)</ul>', body, flags=re.S)
    return " | ".join(" ".join(f.split()) for f in found) or body[:500]
