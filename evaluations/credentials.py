"""The one way to read a model's secret: ``credential_for(model_version)``. Used by the run engine's tasks and by
the test-connection task, inside a worker, for one call only (never os.environ, never a log)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from evaluations.crypto import CredentialDecryptionError, decrypt
from evaluations.engine.scrub import scrub
from evaluations.models import ModelCredential, ModelVersion

__all__ = ["Credential", "CredentialDecryptionError", "credential_for", "scrub"]


@dataclass(frozen=True)
class Credential:
    api_key: str = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"Credential(api_key=<hidden>, headers=<{len(self.headers)} hidden>)"

    __str__ = __repr__

    def secrets(self) -> list[str]:
        return [value for value in [self.api_key, *self.headers.values()] if value]


def credential_for(model_version: ModelVersion) -> Credential | None:
    """The decrypted credential of the version's registered model, or None when none is set.
    Raises CredentialDecryptionError (a clear message, no ciphertext) when the keys cannot decrypt it."""
    stored = ModelCredential.objects.filter(registered_model_id=model_version.registered_model_id).first()
    if stored is None:
        return None
    try:
        payload = json.loads(decrypt(bytes(stored.ciphertext)).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CredentialDecryptionError("The stored credential is corrupt; set the API key again.") from None
    return Credential(api_key=str(payload.get("api_key") or ""), headers=dict(payload.get("headers") or {}))
