"""Field encryption with cryptography's MultiFernet. Keys come from settings.FIELD_ENCRYPTION_KEYS (newest first),
never from SECRET_KEY. A wrong or missing key raises ``CredentialDecryptionError`` with a clear message: never
ciphertext, never an empty secret."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialDecryptionError(Exception):
    """The stored credential cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS."""


def _keys(keys: list[str] | None = None) -> list[str]:
    configured = list(keys if keys is not None else settings.FIELD_ENCRYPTION_KEYS)
    if not configured:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: no key to encrypt or decrypt credentials with.")
    return configured


def multi_fernet(keys: list[str] | None = None) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys(keys)])


def encrypt(plaintext: bytes, *, keys: list[str] | None = None) -> bytes:
    """Encrypt with the newest (first) key."""
    return multi_fernet(keys).encrypt(plaintext)


def decrypt(token: bytes, *, keys: list[str] | None = None) -> bytes:
    if not token:
        raise CredentialDecryptionError("The stored credential is empty; set the API key again.")
    try:
        return multi_fernet(keys).decrypt(bytes(token))
    except InvalidToken:
        raise CredentialDecryptionError(
            "The stored credential cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS "
            "(the key it was encrypted with is missing or wrong). Restore the old key (listed after the new one) "
            "and run `manage.py rotate_encryption_keys`, or set the API key again."
        ) from None


def rotate(token: bytes, *, keys: list[str] | None = None) -> bytes:
    """Re-encrypt ``token`` under the newest key (it must decrypt with one of the keys)."""
    try:
        return multi_fernet(keys).rotate(bytes(token))
    except InvalidToken:
        raise CredentialDecryptionError(
            "A stored credential cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS, so it cannot be "
            "re-encrypted. Add the key it was encrypted with after the new one and run the command again."
        ) from None
