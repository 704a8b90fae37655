import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from evaluations.credentials import Credential, credential_for
from evaluations.crypto import CredentialDecryptionError
from evaluations.models import ModelCredential
from evaluations.services.registry import credential_set
from tests.support.registry import make_model

pytestmark = pytest.mark.django_db

CANARY = "sk-canary-rotation-0123456789abcdef"


def test_credential_round_trips_and_its_repr_hides_the_secret(uk_staff, exercise):
    model = make_model(uk_staff, exercise)
    credential_set(user=uk_staff, registered_model=model, api_key=CANARY, extra_headers={"X-Team": "secret-team"})
    cred = credential_for(model.current_version)
    assert cred == Credential(api_key=CANARY, headers={"X-Team": "secret-team"})
    assert CANARY not in repr(cred) and "secret-team" not in repr(cred) and CANARY not in str(cred)
    assert CANARY.encode() not in bytes(ModelCredential.objects.get().ciphertext)


def test_no_credential_is_none(uk_staff, exercise):
    assert credential_for(make_model(uk_staff, exercise).current_version) is None


def test_rotation_with_a_new_key_first_then_the_new_key_alone_decrypts(uk_staff, exercise, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    model = make_model(uk_staff, exercise)
    credential_set(user=uk_staff, registered_model=model, api_key=CANARY)
    before = bytes(ModelCredential.objects.get().ciphertext)
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
        call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert bytes(ModelCredential.objects.get().ciphertext) != before
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        assert credential_for(model.current_version).api_key == CANARY
    with override_settings(FIELD_ENCRYPTION_KEYS=[old_key]), pytest.raises(CredentialDecryptionError):
        credential_for(model.current_version)


def test_a_wrong_key_raises_a_clear_error_never_ciphertext_or_empty(uk_staff, exercise):
    model = make_model(uk_staff, exercise)
    credential_set(user=uk_staff, registered_model=model, api_key=CANARY)
    token = bytes(ModelCredential.objects.get().ciphertext).decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        with pytest.raises(CredentialDecryptionError) as info:
            credential_for(model.current_version)
        message = str(info.value)
        assert "FIELD_ENCRYPTION_KEYS" in message and token not in message and CANARY not in message
        with pytest.raises(CommandError, match="cannot be decrypted"):
            call_command("rotate_encryption_keys")
    # the failed rotation changed nothing
    assert bytes(ModelCredential.objects.get().ciphertext).decode() == token


def test_credential_changes_are_audited_without_the_secret(uk_staff, exercise):
    from portal.models import AuditEvent

    model = make_model(uk_staff, exercise)
    credential_set(user=uk_staff, registered_model=model, api_key=CANARY, extra_headers={"X-A": "hv-secret"})
    event = AuditEvent.objects.get(action="model.credential_set")
    assert event.after["credential"]["set_by"] == "uk.staff@example.org"
    assert CANARY not in str(event.after) and "hv-secret" not in str(event.after)
