"""Rotating the keys as docs/operations.md says: SECRET_KEY with SECRET_KEY_FALLBACKS (sessions survive while the old
key is a fallback, and end once it is dropped), and FIELD_ENCRYPTION_KEYS with ``rotate_encryption_keys`` (after
it, the newest key alone decrypts every credential)."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client, override_settings

from evaluations import crypto
from evaluations.models import ModelCredential
from tests.support.helpers import sign_in

pytestmark = pytest.mark.django_db

OLD_SECRET = "old-secret-key-for-the-rotation-test-0123456789abcdefghijklmnopqrstuvwxyz"
NEW_SECRET = "new-secret-key-for-the-rotation-test-9876543210zyxwvutsrqponmlkjihgfedcba"


def test_a_session_survives_a_secret_key_rotation_while_the_old_key_is_a_fallback(uk_staff):
    with override_settings(SECRET_KEY=OLD_SECRET, SECRET_KEY_FALLBACKS=[]):
        active, idle = sign_in(Client(), uk_staff), sign_in(Client(), uk_staff)
        assert active.get("/api/v1/me/").status_code == idle.get("/api/v1/me/").status_code == 200
    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        assert active.get("/api/v1/me/").status_code == 200  # still signed in, and moved to the new key
    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[]):
        assert active.get("/api/v1/me/").status_code == 200
        assert idle.get("/api/v1/me/").status_code == 401  # not seen while the old key was a fallback: over


def test_rotate_encryption_keys_re_encrypts_every_credential_under_the_newest_key(uk_staff, exercise, capsys):
    from evaluations.services.registry import model_create

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[old]):
        for n in range(2):
            model_create(user=uk_staff, name=f"Rotated {n}", exercises=[exercise], provider_model="mockllm/model",
                         api_key=f"sk-rotation-{n}-0123456789")
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        call_command("rotate_encryption_keys")
    assert "Re-encrypted 2 credential(s)" in capsys.readouterr().out
    plain = sorted(json.loads(crypto.decrypt(bytes(c.ciphertext), keys=[new]))["api_key"]
                   for c in ModelCredential.objects.all())
    assert plain == ["sk-rotation-0-0123456789", "sk-rotation-1-0123456789"]
    with pytest.raises(crypto.CredentialDecryptionError):
        crypto.decrypt(bytes(ModelCredential.objects.first().ciphertext), keys=[old])
