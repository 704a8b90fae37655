"""Benchmark task for bench/*.py: "Say: wordN" -> "wordN", answered by mockllm with token usage (works offline).

The task carries its own model (``Task(model=...)``) so the same model with the same outputs answers on both
paths: the plain ``inspect eval`` command line (which cannot pass a Python callable as ``custom_outputs``) and
the portal engine's ``run_item``. Run it with ``--model mockllm/model`` on either path.
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import match
from inspect_ai.solver import generate


def _answer(messages: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
    text = ""
    for message in reversed(messages):
        if message.role == "user":
            text = message.text
            break
    output = ModelOutput.from_content(model="mockllm/model", content=text.rsplit(":", 1)[-1].strip())
    output.usage = ModelUsage(input_tokens=12, output_tokens=2, total_tokens=14)
    return output


@task
def bench_echo(samples: int = 1000) -> Task:
    return Task(
        dataset=[Sample(id=f"s{i}", input=f"Say: word{i}", target=f"word{i}") for i in range(samples)],
        solver=generate(),
        scorer=match(location="exact"),
        model=get_model("mockllm/model", custom_outputs=_answer, memoize=False),
    )


@task
def bench_prompts(samples: int = 20) -> Task:
    """Short completion prompts for a real base model (no model of its own: pass --model)."""
    stems = ["One, two, three,", "The capital of France is", "Monday, Tuesday,", "A, B, C,", "Red, green,"]
    return Task(
        dataset=[Sample(id=f"p{i}", input=stems[i % len(stems)], target="x") for i in range(samples)],
        solver=generate(),
        scorer=match(location="any"),
    )
