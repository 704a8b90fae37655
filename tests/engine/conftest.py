"""Engine fixtures: real inspect-ai evaluations with mockllm (offline), run one at a time in this process."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from evaluations.engine import ItemOutcome, ItemSpec, run_item
from tests.support.fixture_tasks import FIXTURE_TASKS
from tests.support.mock_outputs import MODEL, echo_outputs
from tests.support.recording import RecordingCallbacks


@dataclass
class Ran:
    spec: ItemSpec
    outcome: ItemOutcome
    callbacks: RecordingCallbacks
    seconds_after_cancel: float | None = None


def echo_spec(log_dir: str, *, item_id: int = 1, **overrides) -> ItemSpec:
    fields = {
        "item_id": item_id,
        "model": MODEL,
        "task": f"{FIXTURE_TASKS}@echo_task",
        "log_dir": log_dir,
        "model_args": {"custom_outputs": echo_outputs(wrong_every=3)},
    }
    fields.update(overrides)
    return ItemSpec(**fields)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Ran:
    """4 samples x 2 epochs, every third answer wrong."""
    spec = echo_spec(str(tmp_path_factory.mktemp("finished")), task_args={"samples": 4}, epochs=2)
    callbacks = RecordingCallbacks()
    return Ran(spec, run_item(spec, callbacks), callbacks)


@pytest.fixture(scope="session")
def cancelled_run(tmp_path_factory) -> Ran:
    """20 slow samples one at a time, cancelled once 3 have finished."""
    spec = echo_spec(
        str(tmp_path_factory.mktemp("cancelled")),
        item_id=2,
        task_args={"samples": 20, "delay": 0.4},
        max_samples=1,
        model_args={"custom_outputs": echo_outputs()},
    )
    callbacks = RecordingCallbacks(cancel_after_samples=3)
    outcome = run_item(spec, callbacks)
    ended = time.monotonic()
    assert callbacks.cancel_requested_at is not None
    return Ran(spec, outcome, callbacks, seconds_after_cancel=ended - callbacks.cancel_requested_at)
