"""Offline answers for Inspect's ``mockllm`` provider, used whenever a registered model is ``mockllm/...``.

mockllm fails every sample offline unless each output carries token usage (it would download a tokenizer), so
the run path passes ``custom_outputs=demo_outputs()`` (ItemSpec.model_args). The demo answers are plausible so
the demo shows real scores: sums in the built-in arithmetic prompts are computed, known capitals are named,
anything else gets a short fixed reply."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_SUM = re.compile(r"Q:\s*(-?\d+)\s*([-+*])\s*(-?\d+)\s*=\s*\n?A:\s*$")
_CAPITAL = re.compile(r"capital of ([A-Za-z ]+)\?\s*\n?A:\s*$")
_CAPITALS = {"france": "Paris", "japan": "Tokyo", "italy": "Rome", "canada": "Ottawa", "germany": "Berlin",
             "spain": "Madrid", "egypt": "Cairo", "kenya": "Nairobi", "peru": "Lima", "norway": "Oslo"}


def demo_answer(prompt: str) -> str:
    text = prompt.rstrip()
    if found := _SUM.search(text):
        a, op, b = int(found.group(1)), found.group(2), int(found.group(3))
        return str(a + b if op == "+" else a - b if op == "-" else a * b)
    if found := _CAPITAL.search(text):
        return _CAPITALS.get(found.group(1).strip().lower(), "I do not know")
    return "OK"


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if getattr(message, "role", None) == "user":
            return str(message.text)
    return ""


def demo_outputs() -> Callable[..., Any]:
    """A mockllm ``custom_outputs`` callable: every output has token usage."""

    def generate(messages: list[Any], tools: Any, tool_choice: Any, config: Any) -> Any:
        from inspect_ai.model import ModelOutput, ModelUsage

        prompt = _last_user_text(messages)
        answer = demo_answer(prompt)
        output = ModelOutput.from_content(model="mockllm/model", content=answer)
        input_tokens = max(len(prompt.split()), 1)
        output.usage = ModelUsage(input_tokens=input_tokens, output_tokens=1, total_tokens=input_tokens + 1)
        return output

    return generate


def mockllm_model_args(provider_model: str) -> dict[str, Any]:
    """The provider args a run passes for a ``mockllm/...`` model (empty for every other provider)."""
    if not provider_model.startswith("mockllm/"):
        return {}
    return {"custom_outputs": demo_outputs()}
