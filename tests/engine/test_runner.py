"""run_item with real inspect-ai (mockllm offline): progress, metrics, cancel, retry, errors, side effects."""

from __future__ import annotations

import json
import logging
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from inspect_ai.log import read_eval_log, read_eval_log_sample_summaries

from evaluations.engine import ItemSpec, run_item
from tests.engine.conftest import echo_spec
from tests.support.fixture_tasks import FIXTURE_TASKS
from tests.support.mock_outputs import echo_outputs
from tests.support.recording import RecordingCallbacks

pytestmark = pytest.mark.slow


def test_run_reports_every_sample_and_returns_metrics_with_stderr(finished_run):
    outcome, callbacks = finished_run.outcome, finished_run.callbacks
    assert outcome.status == "success"
    assert outcome.error is None
    assert (outcome.total_samples, outcome.completed_samples) == (8, 8)
    assert callbacks.started == 1 and callbacks.total_samples == 8
    assert sorted((e.sample_id, e.epoch) for e in callbacks.events) == [
        (f"s{i}", epoch) for i in range(4) for epoch in (1, 2)
    ]
    assert all(e.input_tokens > 0 and e.output_tokens == 1 and e.error is None for e in callbacks.events)
    wrong = sum(1 for e in callbacks.events if e.scores["match"] == "I")
    assert wrong == 2  # every third of 8 answers
    assert outcome.metrics["match"]["accuracy"] == pytest.approx(6 / 8)
    assert outcome.metrics["match"]["stderr"] > 0
    assert read_eval_log(outcome.log_path, header_only=True).status == "success"


def test_callbacks_run_in_one_thread_that_is_not_the_callers(finished_run, cancelled_run):
    for ran in (finished_run, cancelled_run):
        assert len(ran.callbacks.threads) == 1
        assert threading.get_ident() not in ran.callbacks.threads


def test_cancel_stops_within_ten_seconds_and_keeps_finished_samples(cancelled_run):
    outcome = cancelled_run.outcome
    assert outcome.status == "cancelled"
    assert cancelled_run.seconds_after_cancel < 10
    header = read_eval_log(outcome.log_path, header_only=True)
    assert header.status == "cancelled"
    kept = [s for s in read_eval_log_sample_summaries(outcome.log_path) if s.completed and s.error is None]
    assert 3 <= len(kept) < 20
    assert outcome.completed_samples == len(kept)
    assert outcome.total_samples == 20


def test_retry_of_cancelled_item_runs_only_the_unfinished_samples(cancelled_run, tmp_path):
    first = cancelled_run.outcome
    finished_first = {s.id for s in read_eval_log_sample_summaries(first.log_path) if s.error is None}
    callbacks = RecordingCallbacks()
    spec = echo_spec(
        cancelled_run.spec.log_dir,
        item_id=2,
        retry_log=first.log_path,
        max_samples=8,
        model_args={"custom_outputs": echo_outputs()},
    )
    outcome = run_item(spec, callbacks)
    assert outcome.status == "success"
    assert outcome.log_path != first.log_path
    rerun = {e.sample_id for e in callbacks.events}
    assert len(callbacks.events) == len(rerun) == 20 - len(finished_first)
    assert rerun.isdisjoint(finished_first)
    assert callbacks.total_samples == 20
    # the new log holds all 20: the finished ones carried over, the rest run now
    summaries = read_eval_log_sample_summaries(outcome.log_path)
    assert sorted(s.id for s in summaries) == sorted(f"s{i}" for i in range(20))
    assert (outcome.total_samples, outcome.completed_samples) == (20, 20)


class _EchoKeyHandler(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that refuses the key and echoes it back (as some gateways do)."""

    def do_POST(self):  # noqa: N802
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}", "type": "auth"}})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def key_echoing_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoKeyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_model_error_gives_error_status_without_the_api_key_anywhere(
    key_echoing_server, tmp_path, caplog, capfd
):
    canary = "sk-canary-7f3a9c1e5b2d4f60"
    spec = ItemSpec(
        item_id=3,
        model="openai-api/gateway/some-model",
        task=f"{FIXTURE_TASKS}@echo_task",
        task_args={"samples": 2},
        log_dir=str(tmp_path),
        base_url=key_echoing_server,
        api_key=canary,
        model_config={"max_retries": 0, "timeout": 10},
        fail_on_error=True,
    )
    with caplog.at_level(logging.DEBUG):
        outcome = run_item(spec, RecordingCallbacks())
    assert outcome.status == "error"
    assert outcome.error and "Incorrect API key provided" in outcome.error
    assert "[redacted]" in outcome.error  # the server did echo it: it was scrubbed, not absent
    assert canary not in repr(outcome)
    redacted_members = 0
    with zipfile.ZipFile(outcome.log_path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            assert canary.encode() not in data, name
            redacted_members += b"[redacted]" in data
    assert redacted_members > 0
    assert read_eval_log(outcome.log_path).status == "error"  # the rewritten log still reads
    assert canary not in caplog.text
    out, err = capfd.readouterr()
    assert canary not in out and canary not in err
    assert canary not in repr(spec)


def test_run_item_restores_root_logging_and_excepthook(tmp_path):
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    level_before, hook_before = root.level, sys.excepthook
    handlers_before = list(root.handlers)
    root.setLevel(logging.INFO)
    try:
        outcome = run_item(echo_spec(str(tmp_path), task_args={"samples": 1}), RecordingCallbacks())
        assert outcome.status == "success"
        assert root.level == logging.INFO
        assert root.handlers == handlers_before
        assert sys.excepthook is hook_before
    finally:
        root.removeHandler(handler)
        root.setLevel(level_before)


def test_run_item_refuses_to_run_inside_an_event_loop(tmp_path):
    import asyncio

    async def inside():
        return run_item(echo_spec(str(tmp_path)), RecordingCallbacks())

    with pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(inside())


def test_unknown_task_gives_error_outcome_instead_of_raising(tmp_path):
    spec = echo_spec(str(tmp_path), task="no_such_task_anywhere")
    outcome = run_item(spec, RecordingCallbacks())
    assert outcome.status == "error"
    assert outcome.log_path is None
    assert "no_such_task_anywhere" in outcome.error


def test_cancel_requested_before_start_gives_cancelled_outcome(tmp_path):
    callbacks = RecordingCallbacks(cancel_after_samples=0)
    outcome = run_item(echo_spec(str(tmp_path), task_args={"samples": 3, "delay": 0.5}), callbacks)
    assert outcome.status == "cancelled"
    assert outcome.completed_samples == 0
