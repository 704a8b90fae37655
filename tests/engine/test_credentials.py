"""Per-call credentials against an OpenAI-compatible server: the key and extra headers reach the server on the
run and on its retry, and reach neither the log nor the process environment."""

from __future__ import annotations

import json
import os
import threading
import zipfile
from http.server import ThreadingHTTPServer

import pytest
from inspect_ai.log import read_eval_log_sample_summaries

from evaluations.engine import ItemSpec, run_item
from tests.support.fixture_tasks import FIXTURE_TASKS
from tests.support.http import JsonHandler
from tests.support.recording import RecordingCallbacks

pytestmark = pytest.mark.slow

KEY = "sk-canary-retry-0c9e2b7a41d5"
HEADER_TOKEN = "gw-canary-5d1f7e3b9a"


class FakeOpenAI(ThreadingHTTPServer):
    """Answers chat completions with the word after "Say:"; refuses odd words while ``flaky`` is set."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.flaky = True
        self.seen: list[tuple[str, str | None, str]] = []  # (authorization, gateway header, word)
        self.lock = threading.Lock()


class _Handler(JsonHandler):
    server: FakeOpenAI

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["messages"][-1]["content"]
        text = text if isinstance(text, str) else text[0]["text"]
        word = text.rsplit(":", 1)[-1].strip()
        with self.server.lock:
            self.server.seen.append(
                (self.headers.get("Authorization", ""), self.headers.get("X-Gateway-Token"), word)
            )
        if self.server.flaky and int(word.removeprefix("word")) % 2 == 1:
            self._send(400, {"error": {"message": "flaky on purpose", "type": "invalid_request_error"}})
            return
        self._send(
            200,
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": word}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            },
        )



@pytest.fixture
def fake_openai():
    server = FakeOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _log_bytes(path: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return b"".join(zf.read(name) for name in zf.namelist())


def test_retry_sends_the_same_credentials_and_reruns_only_the_failed_samples(fake_openai, tmp_path):
    spec = ItemSpec(
        item_id=20,
        model="openai-api/gateway/some-model",
        task=f"{FIXTURE_TASKS}@echo_task",
        task_args={"samples": 6},
        log_dir=str(tmp_path),
        base_url=f"http://127.0.0.1:{fake_openai.server_address[1]}/v1",
        api_key=KEY,
        extra_headers={"X-Gateway-Token": HEADER_TOKEN},
        model_config={"max_retries": 0, "timeout": 10},
        fail_on_error=False,
    )
    first = run_item(spec, RecordingCallbacks())
    failed = {s.id for s in read_eval_log_sample_summaries(first.log_path) if s.error is not None}
    assert failed == {"s1", "s3", "s5"}
    assert first.completed_samples == 6 - len(failed) or first.status == "success"

    fake_openai.flaky = False
    fake_openai.seen.clear()
    callbacks = RecordingCallbacks()
    retried = run_item(
        ItemSpec(**{**spec.__dict__, "retry_log": first.log_path}),
        callbacks,
    )
    assert retried.status == "success", retried.error
    assert {e.sample_id for e in callbacks.events} == failed
    assert sorted(word for _, _, word in fake_openai.seen) == ["word1", "word3", "word5"]
    assert all(auth == f"Bearer {KEY}" and token == HEADER_TOKEN for auth, token, _ in fake_openai.seen)
    assert (retried.total_samples, retried.completed_samples) == (6, 6)

    for path in (first.log_path, retried.log_path):
        data = _log_bytes(path)
        assert KEY.encode() not in data
        assert HEADER_TOKEN.encode() not in data
    assert not any(KEY in value or HEADER_TOKEN in value for value in os.environ.values())


def test_memoized_retry_model_does_not_keep_the_key_in_inspects_model_cache(fake_openai, tmp_path):
    from inspect_ai.model._model import _models

    fake_openai.flaky = True
    spec = ItemSpec(
        item_id=21,
        model="openai-api/gateway/some-model",
        task=f"{FIXTURE_TASKS}@echo_task",
        task_args={"samples": 2},
        log_dir=str(tmp_path),
        base_url=f"http://127.0.0.1:{fake_openai.server_address[1]}/v1",
        api_key=KEY,
        model_config={"max_retries": 0, "timeout": 10},
    )
    first = run_item(spec, RecordingCallbacks())
    fake_openai.flaky = False
    run_item(ItemSpec(**{**spec.__dict__, "retry_log": first.log_path}), RecordingCallbacks())
    assert not any(KEY in key for key in _models)
