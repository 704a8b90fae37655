"""Test-only Inspect tasks, importable and registered with @task so eval_retry can rebuild them.

Run them by file: ``ItemSpec(task=f"{FIXTURE_TASKS}@echo_task", ...)`` (the log records the file, so a retry
finds it again while the file exists).
"""

from __future__ import annotations

import os

import anyio
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
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
