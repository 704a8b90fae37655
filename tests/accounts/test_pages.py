"""Pages and API behaviour of the accounts area beyond the permission matrix."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import ApiToken, Invitation, User
from evaluations.models import Exercise
from portal.models import AuditEvent
from tests.support.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.helpers import enrol_totp, totp_code

pytestmark = pytest.mark.django_db


def test_the_api_docs_and_schema_are_served_by_the_portal_itself(client):
    docs = client.get("/api/docs/", HTTP_ACCEPT="text/html")
    assert docs.status_code == 200
    assert not re.search(r'(src|href)="https?://', docs.content.decode())
    assert b"/static/drf_spectacular_sidecar/" in docs.content
    schema = client.get("/api/schema/?format=json").json()
    assert {"/api/v1/me/", "/api/v1/exercises/", "/api/v1/audit-events/", "/api/v1/tokens/",
            "/api/v1/organisations/"} <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"bearerAuth", "sessionAuth"}


def test_errors_are_json_with_a_detail_message(client, sign_in, uk_staff):
    sign_in(client, uk_staff)
    assert client.get("/api/v1/exercises/999999/").json() == {"detail": "Not found."}
    response = client.post("/api/v1/exercises/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403 and response.json()["detail"] == "Only admins create exercises."
    assert "detail" in Client().get("/api/v1/me/").json()


def test_a_burst_of_wrong_mfa_codes_is_refused_even_with_the_right_code_after(client, uk_aisi):
    user = UserFactory(organisation=uk_aisi)
    enrol_totp(user)
    client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    right = totp_code()
    wrong = "123456" if right != "123456" else "654321"
    for _ in range(5):
        client.post("/accounts/2fa/authenticate/", {"code": wrong})
    response = client.post("/accounts/2fa/authenticate/", {"code": right})
    assert response.status_code == 200 and b"Too many" in response.content
    assert client.get("/api/v1/me/").status_code == 401


def test_a_joint_exercise_needs_two_institutes_and_only_partners_can_be_invited(client, sign_in, admin_user,
                                                                                   uk_aisi, partner_ca):
    sign_in(client, admin_user)
    response = client.post("/api/v1/exercises/", {"name": "Solo", "institutes": [uk_aisi.pk]},
                           content_type="application/json")
    assert response.status_code == 400 and "two" in str(response.json()["errors"])
    assert not Exercise.objects.exists()


def test_a_partner_sees_only_its_own_invitation_on_an_exercise(client, sign_in, partner_viewer, exercise,
                                                                 partner_other):
    exercise.partners.add(partner_other)
    sign_in(client, partner_viewer)
    data = client.get(f"/api/v1/exercises/{exercise.pk}/").json()
    assert data["partners"] == [partner_viewer.organisation_id]
    page = client.get(f"/exercises/{exercise.pk}/").content.decode()
    assert partner_other.name not in page


def test_admins_create_edit_and_archive_exercises_through_the_pages_and_each_step_is_audited(
    client, sign_in, admin_user, uk_aisi, us_aisi, partner_ca
):
    sign_in(client, admin_user)
    response = client.post("/exercises/new/", {"name": "Joint Beta", "description": "d", "status": "planning",
                                               "institutes": [uk_aisi.pk, us_aisi.pk], "partners": [partner_ca.pk]})
    exercise = Exercise.objects.get(name="Joint Beta")
    assert response["Location"] == f"/exercises/{exercise.pk}/"
    response = client.post(f"/exercises/{exercise.pk}/edit/", {
        "name": "Joint Beta", "description": "changed", "status": "active", "institutes": [uk_aisi.pk, us_aisi.pk],
    })
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert exercise.status == "active" and not exercise.partners.exists()
    page = client.get(f"/exercises/{exercise.pk}/").content.decode()
    assert 'data-confirm="Archive Joint Beta' in page
    client.post(f"/exercises/{exercise.pk}/archive/")
    exercise.refresh_from_db()
    assert exercise.archived_at is not None and exercise.status == "closed"
    assert "You archived the exercise Joint Beta" in client.get(f"/exercises/{exercise.pk}/").content.decode()
    assert exercise.name not in client.get("/exercises/").content.decode()
    assert exercise.name in client.get("/exercises/?archived=1").content.decode()
    actions = list(AuditEvent.objects.filter(exercise_id=exercise.pk).order_by("id").values_list("action", flat=True))
    assert actions == ["exercise.create", "exercise.update", "exercise.archive"]
    update = AuditEvent.objects.get(action="exercise.update")
    assert update.before["status"] == "planning" and update.after["status"] == "active"


def test_admins_change_roles_through_the_people_page_but_not_their_own_admin_flag(client, sign_in, admin_user,
                                                                                    uk_staff):
    sign_in(client, admin_user)
    response = client.post(f"/manage/users/{uk_staff.pk}/", {"role": "approver", "is_active": "on"})
    assert response.status_code == 302
    assert User.objects.get(pk=uk_staff.pk).role == "approver"
    response = client.post(f"/manage/users/{admin_user.pk}/", {"role": "staff", "is_active": "on"})
    assert response.status_code == 200 and b"cannot remove your own admin" in response.content
    assert User.objects.get(pk=admin_user.pk).is_portal_admin
    assert AuditEvent.objects.filter(action="user.role_change").count() == 1


def test_admins_revoke_a_pending_invitation_from_the_page(client, sign_in, admin_user, uk_aisi):
    sign_in(client, admin_user)
    client.post("/manage/invitations/", {"email": "p@example.org", "organisation": uk_aisi.pk, "role": "staff"})
    invitation = Invitation.objects.get()
    page = client.get("/manage/invitations/").content.decode()
    assert "data-confirm=" in page
    assert client.post(f"/manage/invitations/{invitation.pk}/revoke/").status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == "revoked"


def test_the_profile_lists_tokens_and_shows_a_new_one_once(client, sign_in, uk_staff):
    sign_in(client, uk_staff)
    created = client.post("/profile/tokens/", {"scope": "read", "days": 7, "name": "laptop"})
    plain = re.search(r'<code id="new-token">([^<]+)</code>', created.content.decode()).group(1)
    profile = client.get("/profile/").content.decode()
    assert "laptop" in profile and plain not in profile and ApiToken.objects.get().prefix in profile
    assert "/accounts/sessions/" in profile and "/accounts/2fa/" in profile


def test_navigation_shows_admin_pages_to_admins_only(client, sign_in, admin_user, uk_staff, partner_viewer):
    sign_in(client, admin_user)
    assert b'href="/manage/invitations/"' in client.get("/exercises/").content
    sign_in(client, uk_staff)
    page = client.get("/exercises/").content
    assert b'href="/manage/invitations/"' not in page and b'href="/audit/"' in page
    sign_in(client, partner_viewer)
    assert b'href="/audit/"' not in client.get("/exercises/").content
