"""Built-in example evaluations the portal ships: tiny, offline, importable ``@task`` functions (so that Inspect's
eval_retry can rebuild them by name), plus ``portal_dataset`` which builds a Task from an uploaded TaskVersion.

They work with ``mockllm/model`` offline and sensibly with a small base model through ``openai-api-completions``:
short few-shot prompts, answers on one line, small max_tokens."""

from __future__ import annotations

import re
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import (
    CORRECT,
    INCORRECT,
    Score,
    Scorer,
    Target,
    accuracy,
    choice,
    exact,
    includes,
    match,
    model_graded_qa,
    pattern,
    scorer,
    stderr,
)
from inspect_ai.solver import TaskState, chain_of_thought, generate, multiple_choice, system_message

FEW_SHOT_CONFIG = GenerateConfig(max_tokens=8, temperature=0.0, stop_seqs=["\n"])

_ARITHMETIC = [
    ("2 + 3", "5"), ("7 - 4", "3"), ("6 * 7", "42"), ("12 + 30", "42"), ("9 * 9", "81"),
    ("100 - 1", "99"), ("15 + 27", "42"), ("8 * 6", "48"), ("50 - 25", "25"), ("11 * 11", "121"),
]
_CAPITALS = [
    ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Canada", "Ottawa"), ("Germany", "Berlin"),
    ("Spain", "Madrid"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Peru", "Lima"), ("Norway", "Oslo"),
]
_ARITHMETIC_SHOTS = "Q: 1 + 1 =\nA: 2\nQ: 10 - 3 =\nA: 7\nQ: 4 * 5 =\nA: 20\n"
_CAPITAL_SHOTS = "Q: What is the capital of Portugal?\nA: Lisbon\nQ: What is the capital of Poland?\nA: Warsaw\n"


@task
def arithmetic(limit: int = 10) -> Task:
    """Ten one-line sums (few-shot); the answer must start with the number."""
    samples = [
        Sample(id=f"arith-{i}", input=f"{_ARITHMETIC_SHOTS}Q: {q} =\nA:", target=a)
        for i, (q, a) in enumerate(_ARITHMETIC[:limit], start=1)
    ]
    return Task(dataset=MemoryDataset(samples, name="arithmetic"), solver=generate(),
                scorer=match(location="begin", numeric=True), config=FEW_SHOT_CONFIG)


@task
def capital_cities(limit: int = 10) -> Task:
    """Capital cities of ten countries (few-shot); the answer must contain the capital."""
    samples = [
        Sample(id=f"capital-{country.lower()}", input=f"{_CAPITAL_SHOTS}Q: What is the capital of {country}?\nA:",
               target=city)
        for country, city in _CAPITALS[:limit]
    ]
    return Task(dataset=MemoryDataset(samples, name="capital_cities"), solver=generate(),
                scorer=includes(ignore_case=True), config=FEW_SHOT_CONFIG)


_INSTRUCTIONS: list[tuple[str, str, str]] = [
    ("if-one-word-1", "Answer in one word. What colour is the sky on a clear day?", "one_word"),
    ("if-one-word-2", "Answer in one word. What animal says moo?", "one_word"),
    ("if-upper-1", "Reply in uppercase. Say hello.", "uppercase"),
    ("if-upper-2", "Reply in uppercase. Name a fruit.", "uppercase"),
    ("if-number-1", "Reply with a number only. How many legs does a spider have?", "number"),
]
_CHECKS = {
    "one_word": lambda text: bool(re.fullmatch(r"[A-Za-z][A-Za-z'-]*[.!]?", text)),
    "uppercase": lambda text: any(c.isalpha() for c in text) and text == text.upper(),
    "number": lambda text: bool(re.fullmatch(r"-?\d+(\.\d+)?", text)),
}


@scorer(metrics=[accuracy(), stderr()])
def instruction_check() -> Scorer:
    """Checks the format rule named in the sample's target (one_word, uppercase, number)."""

    async def score(state: TaskState, target: Target) -> Score:
        text = state.output.completion.strip().splitlines()[0].strip() if state.output.completion.strip() else ""
        rule = target.text
        check = _CHECKS.get(rule)
        ok = bool(check and check(text))
        return Score(value=CORRECT if ok else INCORRECT, answer=text, explanation=f"rule: {rule}")

    return score


@task
def instruction_following() -> Task:
    """Five format instructions (one word, uppercase, number only), checked by a rule-based scorer."""
    samples = [
        Sample(id=sid, input=f"Instruction: {text}\nResponse:", target=rule, metadata={"rule": rule})
        for sid, text, rule in _INSTRUCTIONS
    ]
    return Task(dataset=MemoryDataset(samples, name="instruction_following"), solver=generate(),
                scorer=instruction_check(), config=GenerateConfig(max_tokens=8, temperature=0.0, stop_seqs=["\n"]))


BUILTIN_TASKS = {"arithmetic": arithmetic, "capital_cities": capital_cities,
                 "instruction_following": instruction_following}


# --- Uploaded datasets ---------------------------------------------------------------------------------------

def build_solver(name: str, args: dict[str, Any]) -> list[Any]:
    if name == "system_prompt_generate":
        return [system_message(args.get("system_prompt") or "You are a helpful assistant."), generate()]
    if name == "chain_of_thought":
        return [chain_of_thought(), generate()]
    if name == "multiple_choice":
        return [multiple_choice()]
    return [generate()]


def build_scorer(name: str, args: dict[str, Any], grader_model: Any = None) -> Scorer:
    if name == "exact":
        return exact()
    if name == "includes":
        return includes(ignore_case=bool(args.get("ignore_case", True)))
    if name == "match":
        return match(location=args.get("location", "end"), ignore_case=bool(args.get("ignore_case", True)))
    if name == "pattern":
        return pattern(args["pattern"], ignore_case=bool(args.get("ignore_case", True)))
    if name == "choice":
        return choice()
    if name == "model_graded_qa":
        return model_graded_qa(model=grader_model)
    raise ValueError(f"unknown scorer {name!r}")


@task
def portal_dataset(task_version_id: int) -> Task:
    """The evaluation of an uploaded dataset (TaskVersion of kind "dataset"): its samples, solver and scorer.
    Needs Django set up (it runs inside a portal worker)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from evaluations.inspectai.datasets import dataset_samples_load
    from evaluations.inspectai.model_factory import grader_model_for
    from evaluations.models import TaskVersion

    def load() -> tuple[Any, list[dict[str, Any]], Any]:
        # Inspect builds tasks inside its event loop, where Django refuses database queries: read in a thread.
        try:
            version = TaskVersion.objects.select_related("eval_task").get(pk=task_version_id,
                                                                          kind=TaskVersion.Kind.DATASET)
            rows = dataset_samples_load(version)
            grader = grader_model_for(version) if version.scorer == "model_graded_qa" else None
            return version, rows, grader
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        version, rows, grader = pool.submit(load).result()
    samples = [
        Sample(id=row["id"], input=row["input"], target=row["target"], choices=row.get("choices") or None,
               metadata=row.get("metadata") or None)
        for row in rows
    ]
    return Task(
        dataset=MemoryDataset(samples, name=f"{version.eval_task.name} v{version.number}"),
        solver=build_solver(version.solver, version.solver_args),
        scorer=build_scorer(version.scorer, version.scorer_args, grader),
        name=f"portal_dataset_{version.eval_task_id}_v{version.number}",
    )
