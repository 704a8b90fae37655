"""Placeholder until the registry branch merges: the credential to call a model version with (never logged)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Credential:
    api_key: str | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)


def credential_for(model_version: Any) -> Credential | None:
    return None
