"""The task a run executes during `make load`: "Say: wordN" -> "wordN" answered by mockllm, paced like a slow remote
model (each answer waits ``delay`` seconds), so the run lasts the whole load test without using a core of its own.
The task carries its own model (as ``bench/bench_tasks.py`` does): the worker runs it with ``mockllm/model``."""

from __future__ import annotations

import time
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import match
from inspect_ai.solver import generate


def _paced_answer(delay: float) -> Any:
    def answer(messages: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        time.sleep(delay)  # a model that takes its time (blocks this evaluation only: one per worker child)
        text = next((m.text for m in reversed(messages) if m.role == "user"), "")
        output = ModelOutput.from_content(model="mockllm/model", content=text.rsplit(":", 1)[-1].strip())
        output.usage = ModelUsage(input_tokens=12, output_tokens=2, total_tokens=14)
        return output

    return answer


@task
def load_echo(samples: int = 1000, delay: float = 0.05) -> Task:
    return Task(
        dataset=[Sample(id=f"s{i}", input=f"Say: word{i}", target=f"word{i}") for i in range(samples)],
        solver=generate(),
        scorer=match(location="exact"),
        model=get_model("mockllm/model", custom_outputs=_paced_answer(delay), memoize=False),
    )
