"""Matrix rows for the accounts area: allauth, Django admin, profile/tokens, admin pages, exercises, audit
trail, and the API's me/organisations/exercises/audit-events/tokens. Row format: see matrix.py."""

from __future__ import annotations

from typing import Any

from tests.permissions.matrix import API_ANON, Exempt, Row, expect

S = expect.signed_in
API = API_ANON


def _admin_only(ok: int | tuple[int, ...], *, anonymous: int = 302, forbidden: int = 403) -> dict[str, Any]:
    return S(forbidden, anonymous=anonymous, admin=ok)


ROWS: list[Row | Exempt] = [
    # --- Public -------------------------------------------------------------------------------------------
    Exempt(route="healthz", reason="public liveness probe; no data"),
    Exempt(route="readyz", reason="public readiness probe for the load balancer; status depends on workers"),
    Row(route="", expect=expect.all(200), note="home page: a sign-in link, or the signed-in user's own start page"),
    Row(route="home/workers/", expect=_admin_only(200), note="admins' live check of the broker and workers"),

    # --- allauth: sign-in, MFA, sessions ---------------------------------------------------------------------
    Row(route="accounts/login/", expect=S(302, anonymous=200), note="signed-in users are sent on"),
    Row(route="accounts/logout/", expect=S(200, anonymous=302)),
    Row(route="accounts/inactive/", expect=expect.all(200)),
    Row(route="accounts/signup/", expect=S(302, anonymous=200), note="closed: explains accounts are by invitation"),
    Row(route="accounts/reauthenticate/", expect=S(200)),
    Row(route="accounts/reauthenticate/code/", expect=S(403), note="re-authentication by emailed code is disabled"),
    Row(route="accounts/reauthenticate/code/confirm/", expect=S(403), note="re-authentication by code is disabled"),
    Row(route="accounts/email/", expect=S(200)),
    Row(route="accounts/confirm-email/", expect=expect.all(200)),
    Row(route="accounts/^confirm-email/(?P<key>[-:\\w]+)/$", kwargs=lambda ctx: {"key": "forged-key"},
        expect=expect.all(200), note="an unknown key shows 'invalid link'"),
    Row(route="accounts/password/change/", expect=S(200)),
    Row(route="accounts/password/set/", expect=S(302)),
    Row(route="accounts/password/reset/", expect=expect.all(200)),
    Row(route="accounts/password/reset/done/", expect=expect.all(200)),
    Row(route="accounts/password/reset/key/done/", expect=expect.all(200)),
    Row(route="accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        kwargs=lambda ctx: {"uidb36": "1", "key": "forged"}, expect=expect.all(200),
        note="a forged key shows 'bad token'"),
    Row(route="accounts/login/code/confirm/", expect=S(302, anonymous=302)),
    Row(route="accounts/2fa/", expect=S(200)),
    Row(route="accounts/2fa/authenticate/", expect=S(302, anonymous=302), note="only inside a login in progress"),
    Row(route="accounts/2fa/reauthenticate/", expect=S(200)),
    Row(route="accounts/2fa/totp/activate/", expect=S(302), note="TOTP already enrolled"),
    Row(route="accounts/2fa/totp/deactivate/", expect=S(302)),
    Row(route="accounts/2fa/recovery-codes/", expect=S(404), note="none generated"),
    Row(route="accounts/2fa/recovery-codes/generate/", expect=S(302)),
    Row(route="accounts/2fa/recovery-codes/download/", expect=S(404), note="none generated"),
    Row(route="accounts/2fa/webauthn/", expect=S(200)),
    Row(route="accounts/2fa/webauthn/add/", expect=S(302)),
    Row(route="accounts/2fa/webauthn/reauthenticate/", expect=S(302)),
    Row(route="accounts/2fa/webauthn/keys/<int:pk>/remove/", kwargs=lambda ctx: {"pk": 999999}, expect=S(302),
        note="re-authentication first"),
    Row(route="accounts/2fa/webauthn/keys/<int:pk>/edit/", kwargs=lambda ctx: {"pk": 999999}, expect=S(302),
        note="re-authentication first"),
    Row(route="accounts/sessions/", expect=S(200)),

    # --- Invitations -----------------------------------------------------------------------------------------
    Row(route="invitations/accept/<str:token>/", kwargs=lambda ctx: {"token": ctx.invitation_token},
        expect=S(400, anonymous=200), note="public link; signed-in users must sign out first"),
    Row(route="invitations/accept/<str:token>/", kwargs=lambda ctx: {"token": "forged-token"},
        expect=S(400, anonymous=400), note="forged token"),
    Row(route="manage/invitations/", expect=_admin_only(200)),
    Row(route="manage/invitations/", method="POST", expect=_admin_only(200),
        data=lambda ctx: {"email": "invitee@example.org", "organisation": ctx.partner.pk, "role": "partner_viewer"}),
    Row(route="manage/invitations/<int:pk>/revoke/", method="POST", kwargs=lambda ctx: {"pk": ctx.invitation.pk},
        expect=S(404, admin=302)),

    # --- Profile and tokens -------------------------------------------------------------------------------------
    Row(route="profile/", expect=S(200)),
    Row(route="profile/tokens/", method="POST", data=lambda ctx: {"scope": "read", "days": 30, "name": "matrix"},
        expect=S(200)),
    Row(route="profile/tokens/", method="POST", data=lambda ctx: {"scope": "write", "days": 30, "name": "matrix"},
        expect=S(200, partner_viewer=400, other_partner_viewer=400), note="write scope: never for partners"),
    Row(route="profile/tokens/<int:pk>/revoke/", method="POST", kwargs=lambda ctx: {"pk": ctx.token.pk},
        expect=S(404, uk_staff=302), note="only the owner sees the token"),

    # --- Admin pages --------------------------------------------------------------------------------------------
    Row(route="manage/organisations/", expect=_admin_only(200)),
    Row(route="manage/organisations/", method="POST", expect=_admin_only(302),
        data=lambda ctx: {"name": "Partner Institute DE", "kind": "partner", "country_code": "DE"}),
    Row(route="manage/organisations/<int:pk>/", kwargs=lambda ctx: {"pk": ctx.uk.pk},
        expect=S(403, admin=200, partner_viewer=404, other_partner_viewer=404)),
    Row(route="manage/users/", expect=_admin_only(200)),
    Row(route="manage/users/<int:pk>/", kwargs=lambda ctx: {"pk": ctx.uk_staff.pk},
        expect=S(404, admin=200, uk_staff=403), note="people see only themselves, and cannot change their role"),
    Row(route="manage/users/<int:pk>/", method="POST", kwargs=lambda ctx: {"pk": ctx.uk_staff.pk},
        data=lambda ctx: {"role": "approver", "is_active": "on"}, expect=S(404, admin=302, uk_staff=403)),

    # --- Exercises (UI) -----------------------------------------------------------------------------------------
    Row(route="exercises/", expect=S(200)),
    Row(route="exercises/new/", expect=_admin_only(200)),
    Row(route="exercises/new/", method="POST", expect=_admin_only(302),
        data=lambda ctx: {"name": "New exercise", "institutes": [ctx.uk.pk, ctx.us.pk], "status": "planning"}),
    Row(route="exercises/<int:pk>/", kwargs=lambda ctx: {"pk": ctx.exercise.pk}, expect=S(200, other_partner_viewer=404)),
    Row(route="exercises/<int:pk>/", kwargs=lambda ctx: {"pk": ctx.uk_only_exercise.pk},
        expect=S(404, uk_staff=200, uk_approver=200, admin=200), note="US and partners not taking part"),
    Row(route="exercises/<int:pk>/edit/", kwargs=lambda ctx: {"pk": ctx.exercise.pk},
        expect=S(403, admin=200, other_partner_viewer=404)),
    Row(route="exercises/<int:pk>/edit/", kwargs=lambda ctx: {"pk": ctx.uk_only_exercise.pk},
        expect=S(404, uk_staff=403, uk_approver=403, admin=200)),
    Row(route="exercises/<int:pk>/archive/", method="POST", kwargs=lambda ctx: {"pk": ctx.exercise.pk},
        expect=S(403, admin=302, other_partner_viewer=404)),

    # --- Audit trail (UI) ---------------------------------------------------------------------------------------
    Row(route="audit/", expect=S(200, partner_viewer=403, other_partner_viewer=403)),
    Row(route="audit/export.csv", expect=S(200, partner_viewer=403, other_partner_viewer=403)),

    # --- API ----------------------------------------------------------------------------------------------------
    Row(route="api/v1/", expect=S(200, anonymous=API)),
    Row(route="api/v1/<drf_format_suffix:format>", kwargs=lambda ctx: {"format": ".json"}, expect=S(200, anonymous=API)),
    Row(route="api/schema/", expect=expect.all(200), note="public: describes the API, no data"),
    Row(route="api/docs/", expect=expect.all(200), note="public Swagger UI (sidecar assets)"),
    Row(route="api/v1/me/", expect=S(200, anonymous=API)),
    Row(route="api/v1/^organisations/$", expect=S(200, anonymous=API)),
    Row(route="api/v1/^organisations/$", method="POST", expect=S(403, anonymous=API, admin=201),
        data=lambda ctx: {"name": "Partner Institute DE", "kind": "partner", "country_code": "DE"}),
    Row(route="api/v1/^organisations/(?P<pk>[^/.]+)/$", kwargs=lambda ctx: {"pk": ctx.uk.pk},
        expect=S(200, anonymous=API, partner_viewer=404, other_partner_viewer=404)),
    Row(route="api/v1/^organisations/(?P<pk>[^/.]+)/$", method="PATCH", kwargs=lambda ctx: {"pk": ctx.uk.pk},
        data=lambda ctx: {"country_code": "GB"}, expect=S(403, anonymous=API, admin=200, partner_viewer=404,
                                                          other_partner_viewer=404)),
    Row(route="api/v1/^organisations/(?P<pk>[^/.]+)/$", method="DELETE", kwargs=lambda ctx: {"pk": ctx.partner.pk},
        expect=S(405, anonymous=API), note="organisations are never deleted"),
    Row(route="api/v1/^exercises/$", expect=S(200, anonymous=API)),
    Row(route="api/v1/^exercises/$", method="POST", expect=S(403, anonymous=API, admin=201),
        data=lambda ctx: {"name": "API exercise", "institutes": [ctx.uk.pk, ctx.us.pk], "partners": []}),
    Row(route="api/v1/^exercises/(?P<pk>[^/.]+)/$", kwargs=lambda ctx: {"pk": ctx.exercise.pk},
        expect=S(200, anonymous=API, other_partner_viewer=404)),
    Row(route="api/v1/^exercises/(?P<pk>[^/.]+)/$", kwargs=lambda ctx: {"pk": ctx.uk_only_exercise.pk},
        expect=S(404, anonymous=API, uk_staff=200, uk_approver=200, admin=200), note="not taking part"),
    Row(route="api/v1/^exercises/(?P<pk>[^/.]+)/$", method="PATCH", kwargs=lambda ctx: {"pk": ctx.exercise.pk},
        data=lambda ctx: {"description": "changed"}, expect=S(403, anonymous=API, admin=200, other_partner_viewer=404)),
    Row(route="api/v1/^exercises/(?P<pk>[^/.]+)/$", method="DELETE", kwargs=lambda ctx: {"pk": ctx.exercise.pk},
        expect=S(403, anonymous=API, admin=204, other_partner_viewer=404), note="archive"),
    Row(route="api/v1/^audit-events/$", expect=S(200, anonymous=API, partner_viewer=403, other_partner_viewer=403)),
    Row(route="api/v1/^audit-events/(?P<pk>[^/.]+)/$", kwargs=lambda ctx: {"pk": ctx.audit_event.pk},
        expect=S(200, anonymous=API, us_staff=404, partner_viewer=403, other_partner_viewer=403),
        note="uk_staff's event in a UK+US exercise: own, approvers of both, admin"),
    Row(route="api/v1/^audit-events/(?P<pk>[^/.]+)/$", kwargs=lambda ctx: {"pk": ctx.admin_event.pk},
        expect=S(404, anonymous=API, admin=200, partner_viewer=403, other_partner_viewer=403)),
    Row(route="api/v1/^tokens/$", expect=S(200, anonymous=API)),
    Row(route="api/v1/^tokens/$", method="POST", data=lambda ctx: {"scope": "read"}, expect=S(201, anonymous=API)),
    Row(route="api/v1/^tokens/$", method="POST", data=lambda ctx: {"scope": "write"},
        expect=S(201, anonymous=API, partner_viewer=403, other_partner_viewer=403)),
    Row(route="api/v1/^tokens/(?P<pk>[^/.]+)/$", kwargs=lambda ctx: {"pk": ctx.token.pk},
        expect=S(404, anonymous=API, uk_staff=200)),
    Row(route="api/v1/^tokens/(?P<pk>[^/.]+)/$", method="DELETE", kwargs=lambda ctx: {"pk": ctx.token.pk},
        expect=S(404, anonymous=API, uk_staff=204)),
]


# A portal admin reaches the Django admin (read-only for portal models; 403 for models without permission,
# 404/302 for placeholder ids, 405 for GET on logout). Everybody else is sent to sign in and never sees a page.
ADMIN_OK = (200, 302, 403, 404, 405)


def _admin_rows() -> list[Row]:
    """The Django admin: one row per pattern. Everyone but a portal admin is sent to the sign-in page (302)
    and never sees a page; for the admin any non-error answer (placeholder ids redirect or 404)."""
    from django.contrib import admin
    from django.urls import URLResolver

    rows: list[Row] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                route = prefix + str(pattern.pattern)
                if route == "django-admin/login/":
                    row_expect = S(403, anonymous=302, admin=302)  # secure_admin_login: non-staff refused
                else:
                    row_expect = S(302, admin=ADMIN_OK)
                rows.append(Row(route=route, kwargs=_admin_kwargs, expect=row_expect, note="django admin"))

    walk(admin.site.urls[0], "django-admin/")
    return rows


def _admin_kwargs(ctx: Any) -> dict[str, Any]:
    return {"object_id": "999999", "app_label": "accounts", "content_type_id": 1, "url": "missing/"}


ROWS.extend(_admin_rows())
