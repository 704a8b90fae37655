"""Invitation-only accounts: the whole path of a new partner viewer, and every refusal (clear and audited)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from accounts.models import Invitation, User
from accounts.services import invitation_create, invitation_revoke
from portal.models import AuditEvent
from tests.support.factories import ExerciseFactory
from tests.support.helpers import sign_in

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-enough-passphrase-7"


def _accept(client, token, email, password=PASSWORD):
    return client.post(f"/invitations/accept/{token}/",
                       {"email": email, "full_name": "New Person", "password1": password, "password2": password})


@pytest.mark.django_db(transaction=True)  # allauth signals the enrolment on commit, inside the request
def test_an_invited_partner_viewer_accepts_enrols_totp_and_sees_only_invited_exercises(
    client, admin_user, partner_ca, exercise, uk_aisi, us_aisi, partner_other
):
    hidden = ExerciseFactory(name="Not for partners", institutes=[uk_aisi, us_aisi], partners=[partner_other])
    admin_client = sign_in(Client(), admin_user)
    response = admin_client.post("/manage/invitations/", {
        "email": "New.Viewer@example.org", "organisation": partner_ca.pk, "role": "partner_viewer",
    })
    assert response.status_code == 200
    link = re.search(r"http://testserver(/invitations/accept/[^/]+/)", mail.outbox[0].body).group(1)
    assert response.content.decode().count(link) == 1

    assert client.get(link).status_code == 200
    response = _accept(client, link.split("/")[3], "new.viewer@example.org")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/"
    user = User.objects.get(email="new.viewer@example.org")
    assert (user.organisation, user.role, user.is_portal_admin) == (partner_ca, "partner_viewer", False)
    assert EmailAddress.objects.filter(user=user, email=user.email, verified=True, primary=True).exists()

    # Before MFA: nothing but the set-up.
    assert client.get("/exercises/").status_code == 302
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    secret = client.session[SECRET_SESSION_KEY]
    from tests.support.helpers import totp_code

    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    listing = client.get("/exercises/")
    assert listing.status_code == 200
    assert exercise.name.encode() in listing.content and hidden.name.encode() not in listing.content
    assert client.get(f"/exercises/{hidden.pk}/").status_code == 404
    assert client.get(f"/api/v1/exercises/{hidden.pk}/").status_code == 404
    assert [e["id"] for e in client.get("/api/v1/exercises/").json()["results"]] == [exercise.pk]
    assert client.get("/audit/").status_code == 403
    assert AuditEvent.objects.filter(action="invitation.accept", actor=user).exists()


@pytest.fixture
def invitation(admin_user, uk_aisi):
    return invitation_create(actor=admin_user, email="invitee@example.org", organisation=uk_aisi, role="staff")


def _refusal(client, token, email="invitee@example.org"):
    response = _accept(client, token, email)
    assert response.status_code == 400
    assert not User.objects.filter(email=email).exists() or Invitation.objects.filter(accepted_at__isnull=False).exists()
    return response.content.decode()


def _last_refusal_reason():
    return AuditEvent.objects.filter(action="invitation.refused").order_by("-id").first().after["reason"]


def test_an_invitation_cannot_be_used_twice(client, invitation):
    assert _accept(client, invitation.token, "invitee@example.org").status_code == 302
    second = Client()
    assert "already been used" in _refusal(second, invitation.token)
    assert _last_refusal_reason() == "already used"


def test_an_expired_invitation_is_refused(client, invitation):
    Invitation.objects.filter(pk=invitation.invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert "has expired" in _refusal(client, invitation.token)
    assert _last_refusal_reason() == "expired"
    assert not User.objects.filter(email="invitee@example.org").exists()


def test_a_revoked_invitation_is_refused(client, invitation, admin_user):
    invitation_revoke(actor=admin_user, invitation=invitation.invitation)
    assert "withdrawn" in _refusal(client, invitation.token)
    assert _last_refusal_reason() == "revoked"
    assert AuditEvent.objects.filter(action="invitation.revoke").exists()


def test_an_invitation_is_bound_to_its_email(client, invitation):
    assert "different email address" in _refusal(client, invitation.token, email="someone.else@example.org")
    assert _last_refusal_reason() == "different email"
    assert not User.objects.exists() or not User.objects.filter(email="someone.else@example.org").exists()


def test_a_forged_token_is_refused(client, invitation):
    assert "not valid" in _refusal(client, invitation.token[:-2] + "xx")
    assert _last_refusal_reason() == "unknown token"
    assert client.get("/invitations/accept/forged/").status_code == 400


def test_the_plain_invitation_token_is_not_stored(invitation):
    stored = Invitation.objects.get()
    assert stored.token_hash != invitation.token and invitation.token not in stored.token_hash


def test_the_admin_flag_is_only_for_institute_members(admin_user, partner_ca, uk_aisi):
    with pytest.raises(ValidationError):
        invitation_create(actor=admin_user, email="x@example.org", organisation=partner_ca, role="partner_viewer",
                          is_admin=True)
    with pytest.raises(ValidationError):
        invitation_create(actor=admin_user, email="x@example.org", organisation=partner_ca, role="staff")
    created = invitation_create(actor=admin_user, email="x@example.org", organisation=uk_aisi, role="staff",
                                is_admin=True)
    assert created.invitation.is_admin


def test_only_admins_invite(uk_approver, uk_aisi):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        invitation_create(actor=uk_approver, email="x@example.org", organisation=uk_aisi, role="staff")


def test_guessing_invitation_tokens_is_rate_limited_per_ip(invitation):
    # Own addresses: the counts live in Redis for a minute, keyed by IP.
    client = Client(REMOTE_ADDR="203.0.113.77")
    statuses = [client.get(f"/invitations/accept/guess-{i}/").status_code for i in range(32)]
    assert statuses[0] == 400 and statuses[-1] == 429
    assert Client(REMOTE_ADDR="203.0.113.78").get(f"/invitations/accept/{invitation.token}/").status_code == 200
