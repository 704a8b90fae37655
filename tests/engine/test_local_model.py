"""A real small model (gemma3-270m via llama-cpp-python's server) through run_item and ingest_log."""

from __future__ import annotations

import pytest

from evaluations.engine import ItemSpec, ingest_log, run_item
from tests.support.fixture_tasks import FIXTURE_TASKS
from tests.support.model_server import LLAMA_MODEL, llama_server  # noqa: F401 - the session fixture
from tests.support.recording import RecordingCallbacks

pytestmark = pytest.mark.slow


def test_real_model_run_gives_output_text_and_token_counts(llama_server, tmp_path):  # noqa: F811
    spec = ItemSpec(
        item_id=10,
        model=LLAMA_MODEL,
        task=f"{FIXTURE_TASKS}@completion_task",
        log_dir=str(tmp_path),
        base_url=llama_server.base_url,
        api_key="local-not-checked",
        model_config={"max_tokens": 8, "temperature": 0.0, "max_retries": 1, "timeout": 60},
        max_connections=1,
        fail_on_error=True,
    )
    callbacks = RecordingCallbacks()
    outcome = run_item(spec, callbacks)
    assert outcome.status == "success", outcome.error
    assert (outcome.total_samples, outcome.completed_samples) == (2, 2)
    assert len(callbacks.events) == 2
    assert all(e.input_tokens > 0 and e.output_tokens > 0 for e in callbacks.events)
    records = []
    ingest_log(outcome.log_path, records.extend)
    assert len(records) == 2
    for record in records:
        assert record.output.strip(), record
        assert record.input_tokens > 0 and 0 < record.output_tokens <= 8
    assert "match" in outcome.metrics
