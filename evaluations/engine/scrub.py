"""The one secret scrubber of the portal (Django-free, so the engine uses it too): every secret, and for a secret of
12 characters or more its first and last 8 characters (providers sometimes echo a prefix or suffix of a key), is
replaced with "[redacted]". ``evaluations.credentials`` and the registry's connection test use this function."""

from __future__ import annotations

from collections.abc import Iterable
from typing import overload

REDACTED = "[redacted]"
FRAGMENT_MIN_SECRET = 12  # a secret this long also has its prefix and suffix redacted
FRAGMENT_CHARS = 8


def secret_fragments(secrets: str | Iterable[str] | None) -> list[str]:
    """What to redact for these secrets, longest first: each secret, then the prefixes and suffixes."""
    items = [secrets] if isinstance(secrets, str) else list(secrets or [])
    fragments: list[str] = []
    for secret in sorted({s for s in items if s}, key=len, reverse=True):
        fragments.append(secret)
        if len(secret) >= FRAGMENT_MIN_SECRET:
            fragments += [secret[:FRAGMENT_CHARS], secret[-FRAGMENT_CHARS:]]
    return list(dict.fromkeys(fragments))


@overload
def scrub(text: str, secrets: str | Iterable[str] | None) -> str: ...
@overload
def scrub(text: None, secrets: str | Iterable[str] | None) -> None: ...
def scrub(text: str | None, secrets: str | Iterable[str] | None) -> str | None:
    """``text`` with every secret (and its long fragments) replaced by "[redacted]"."""
    if text is None:
        return None
    for fragment in secret_fragments(secrets):
        text = text.replace(fragment, REDACTED)
    return text
