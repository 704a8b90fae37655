"""mockllm outputs that work offline: every output carries token usage (without it mockllm downloads a tokenizer).

Usage: ``ItemSpec(model="mockllm/model", model_args={"custom_outputs": echo_outputs()}, ...)`` or
``get_model("mockllm/model", custom_outputs=echo_outputs())``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inspect_ai.model import ModelOutput, ModelUsage

MODEL = "mockllm/model"


def output_with_usage(content: str, *, input_tokens: int = 7, output_tokens: int = 3) -> ModelOutput:
    output = ModelOutput.from_content(model=MODEL, content=content)
    output.usage = ModelUsage(
        input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=input_tokens + output_tokens
    )
    return output


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if getattr(message, "role", None) == "user":
            return str(message.text)
    return ""


def echo_outputs(*, wrong_every: int = 0) -> Callable[..., ModelOutput]:
    """Answers "Say: <word>" with <word> (every ``wrong_every``-th call answers "wrong" instead)."""
    calls = {"n": 0}

    def generate(messages: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        calls["n"] += 1
        text = _last_user_text(messages)
        answer = text.rsplit(":", 1)[-1].strip()
        if wrong_every and calls["n"] % wrong_every == 0:
            answer = "wrong"
        return output_with_usage(answer, input_tokens=len(text.split()) + 5, output_tokens=1)

    return generate


def fixed_outputs(content: str = "ok") -> Callable[..., ModelOutput]:
    def generate(messages: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        return output_with_usage(content)

    return generate
