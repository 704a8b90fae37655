"""Test-only Inspect tasks, importable and registered with @task so eval_retry can rebuild them.

Run them by file: ``ItemSpec(task=f"{FIXTURE_TASKS}@echo_task", ...)`` (the log records the file, so a retry
finds it again while the file exists).

``echo_task``: 'Say: wordN' -> 'wordN' through the model. ``completion_task``: two prompts for a base model.
``counting``: ``samples`` samples "1".."N" whose target is the id; the solver answers without calling a model
(mockllm needs no tokenizer), sleeps ``delay`` seconds per sample, fails the ids in ``fail_ids``, and appends each
finished sample id to ``trace_file`` so a test counts how often every sample really ran.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import anyio
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage
from inspect_ai.scorer import match
from inspect_ai.solver import Generate, Solver, TaskState, generate, solver

FIXTURE_TASKS = os.path.abspath(__file__)


@solver
def slow_generate(delay: float = 0.0) -> Solver:
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if delay:
            await anyio.sleep(delay)
        return await generate(state)

    return solve


@task
def echo_task(samples: int = 5, delay: float = 0.0) -> Task:
    """'Say: wordN' -> 'wordN', scored with match()."""
    return Task(
        dataset=[Sample(id=f"s{i}", input=f"Say: word{i}", target=f"word{i}") for i in range(samples)],
        solver=slow_generate(delay) if delay else generate(),
        scorer=match(location="exact"),
    )


@task
def completion_task() -> Task:
    """Two short prompts for a base (completion) model; the score does not matter, the output does."""
    return Task(
        dataset=[
            Sample(id="capital", input="The capital of France is", target="Paris"),
            Sample(id="count", input="One, two, three, four,", target="five"),
        ],
        solver=generate(),
        scorer=match(location="any"),
    )


@solver
def counting_solver(delay: float = 0.0, trace_file: str = "", fail_ids: list[str] | None = None,
                    fail_marker: str = ""):  # type: ignore[no-untyped-def]
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if delay:
            await asyncio.sleep(delay)
        sample_id = str(state.sample_id)
        if sample_id in (fail_ids or []) and not (fail_marker and os.path.exists(fail_marker)):
            raise RuntimeError(f"sample {sample_id} fails on purpose")
        output = ModelOutput.from_content(model="mockllm/model", content=sample_id)
        output.usage = ModelUsage(input_tokens=3, output_tokens=1, total_tokens=4)
        state.output = output
        state.messages.append(output.message)
        if trace_file:
            with open(trace_file, "a") as handle:
                handle.write(f"{sample_id}\n")
        return state

    return solve


@task
def counting(samples: int = 4, delay: float = 0.0, trace_file: str = "", fail_ids: list[str] | None = None,
             fail_marker: str = "") -> Task:
    dataset: list[Any] = [Sample(id=str(i), input=f"Say {i}.", target=str(i)) for i in range(1, samples + 1)]
    return Task(dataset=dataset, solver=counting_solver(delay, trace_file, fail_ids, fail_marker), scorer=match())
