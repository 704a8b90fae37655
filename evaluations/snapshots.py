"""Pure helpers for release snapshots (no Django): redaction of evidence excerpts and the canonical JSON whose
SHA-256 a release records (notes/findings-contract.md). Services, pages and reports import these; nothing else
redacts or hashes a snapshot."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

REDACTION_MARKER = "[redacted]"


class RedactionError(ValueError):
    """The spans are not a valid redaction of the text (the message says why, for the user)."""


def redactions_validate(spans: Any, length: int) -> list[list[int]]:
    """``spans``: a list of ``[start, end]`` character offsets (Unicode code points, end exclusive) with
    ``0 <= start < end <= length``, not overlapping once sorted. Returns them sorted; raises ``RedactionError``."""
    if spans is None:
        return []
    if not isinstance(spans, list):
        raise RedactionError("Give a list of [start, end] pairs.")
    cleaned: list[list[int]] = []
    for number, span in enumerate(spans, start=1):
        if (not isinstance(span, (list, tuple)) or len(span) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in span)):
            raise RedactionError(f"Redaction {number} must be a pair of whole numbers [start, end].")
        start, end = span
        if not 0 <= start < end <= length:
            raise RedactionError(
                f"Redaction {number} [{start}, {end}] must satisfy 0 <= start < end <= {length} "
                "(the excerpt's length).")
        cleaned.append([start, end])
    cleaned.sort()
    for before, after in zip(cleaned, cleaned[1:], strict=False):
        if after[0] < before[1]:
            raise RedactionError(f"Redactions {before} and {after} overlap.")
    return cleaned


def redact(text: str, spans: Sequence[Sequence[int]]) -> str:
    """``text`` with each span replaced by ``REDACTION_MARKER`` (spans as validated by ``redactions_validate``)."""
    parts: list[str] = []
    cursor = 0
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        parts.append(text[cursor:start])
        parts.append(REDACTION_MARKER)
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def canonical_json(snapshot: Any) -> bytes:
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def snapshot_sha256(snapshot: Any) -> str:
    return hashlib.sha256(canonical_json(snapshot)).hexdigest()
