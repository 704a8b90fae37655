"""The permission matrix: every URL pattern × every actor → the expected HTTP status (ROLES.md).

HOW TO ADD ROWS (every area has its own module ``tests/permissions/rows_<area>.py`` with a ``ROWS`` list;
``test_matrix.py`` collects every ``rows_*.py`` module in this package, so a new module needs no registration):

    from tests.permissions.matrix import Row, Exempt, expect, API_ANON, UI_ANON

    ROWS = [
        Row(
            route="exercises/<int:pk>/",            # the pattern exactly as the resolver prints it: the
                                                     # concatenated str(pattern) of each include level, e.g.
                                                     # "api/v1/^runs/(?P<pk>[^/.]+)/$" for a DRF router route
            method="GET",                            # GET (default), POST, PUT, PATCH or DELETE
            kwargs=lambda ctx: {"pk": ctx.exercise.pk},   # path parameters; ctx is a MatrixContext (below)
            data=lambda ctx: {...},                  # optional request body (JSON for api/ routes, form otherwise)
            query=lambda ctx: f"items={ctx.item.pk}",  # optional query string
            multipart=False,                         # True: a multipart body even for an api/ route (uploads)
            expect=expect(anonymous=302, uk_staff=200, us_staff=200, uk_approver=200, us_approver=200,
                          admin=200, partner_viewer=200, other_partner_viewer=404),
        ),
        Exempt(route="healthz", reason="public liveness probe"),
    ]

``expect(...)`` must name all eight actors (ACTORS); a value is a status or a tuple of acceptable statuses.
Shorthands: ``expect.all(200)``, ``expect.signed_in(200, anonymous=302)``. Several rows may cover one route
(e.g. GET and POST). A route with no row (or Exempt) fails ``test_every_url_pattern_has_a_row``.

Actors: anonymous; uk_staff, us_staff, uk_approver, us_approver (institutes taking part in ctx.exercise);
admin (UK AISI staff with the admin flag); partner_viewer (Partner Institute CA, invited to ctx.exercise);
other_partner_viewer (Partner Institute JP, not invited). Signed-in actors go through ``sign_in`` (MFA passed).

MatrixContext (built ONCE for the whole matrix; every actor's request is rolled back): orgs ``uk``, ``us``, ``partner``, ``other_partner``; users by actor
name; ``exercise`` (UK+US, CA invited); ``uk_only_exercise`` (UK + a third institute, nobody else invited);
``invitation`` (pending) and its plain ``invitation_token``; ``token`` (uk_staff's); ``audit_event`` (an event of ``exercise``, by uk_staff);
``admin_event`` (an event by admin, no exercise). Areas add their own objects with ``@context_extension``:

    @context_extension
    def add_runs(ctx): ctx.run = RunFactory(exercise=ctx.exercise, created_by=ctx.users["uk_staff"])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACTORS = (
    "anonymous", "uk_staff", "us_staff", "uk_approver", "us_approver", "admin", "partner_viewer",
    "other_partner_viewer",
)
SIGNED_IN = ACTORS[1:]
INSTITUTE_ACTORS = ("uk_staff", "us_staff", "uk_approver", "us_approver", "admin")
UI_ANON = 302  # login_required pages redirect to the sign-in page
API_ANON = 401  # the API answers 401 with a Bearer challenge


class _Expect:
    def __call__(self, **statuses: int | tuple[int, ...]) -> dict[str, int | tuple[int, ...]]:
        missing = set(ACTORS) - set(statuses)
        extra = set(statuses) - set(ACTORS)
        if missing or extra:
            raise ValueError(f"expect(): missing actors {sorted(missing)}, unknown {sorted(extra)}")
        return dict(statuses)

    def all(self, status: int | tuple[int, ...]) -> dict[str, int | tuple[int, ...]]:
        return dict.fromkeys(ACTORS, status)

    def signed_in(self, status: int | tuple[int, ...], *, anonymous: int | tuple[int, ...] = UI_ANON,
                  **overrides: int | tuple[int, ...]) -> dict[str, int | tuple[int, ...]]:
        values: dict[str, int | tuple[int, ...]] = dict.fromkeys(SIGNED_IN, status)
        values["anonymous"] = anonymous
        values.update(overrides)
        return self(**values)


expect = _Expect()


@dataclass
class Row:
    route: str
    expect: dict[str, int | tuple[int, ...]]
    method: str = "GET"
    kwargs: Callable[[Any], dict[str, Any]] = field(default=lambda ctx: {})
    data: Callable[[Any], Any] | None = None
    note: str = ""
    query: Callable[[Any], str] | None = None  # a query string (without "?")
    multipart: bool = False  # send ``data`` as a multipart form even to the API (upload endpoints)

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"


@dataclass
class Exempt:
    route: str
    reason: str

    @property
    def id(self) -> str:
        return f"exempt {self.route}"


_EXTENSIONS: list[Callable[[Any], None]] = []


def context_extension(function: Callable[[Any], None]) -> Callable[[Any], None]:
    _EXTENSIONS.append(function)
    return function


class MatrixContext:
    users: dict[str, Any]

    def __init__(self) -> None:
        from accounts.services import api_token_create, invitation_create
        from portal.audit import audit_record
        from tests.support.factories import ExerciseFactory, OrganisationFactory, UserFactory

        self.uk = OrganisationFactory(name="UK AISI", kind="institute", country_code="GB")
        self.us = OrganisationFactory(name="US AISI", kind="institute", country_code="US")
        self.third = OrganisationFactory(name="Third Institute", kind="institute", country_code="FR")
        self.partner = OrganisationFactory(name="Partner Institute CA", kind="partner", country_code="CA")
        self.other_partner = OrganisationFactory(name="Partner Institute JP", kind="partner", country_code="JP")
        self.users = {
            "uk_staff": UserFactory(email="uk.staff@example.org", organisation=self.uk, role="staff"),
            "us_staff": UserFactory(email="us.staff@example.org", organisation=self.us, role="staff"),
            "uk_approver": UserFactory(email="uk.approver@example.org", organisation=self.uk, role="approver"),
            "us_approver": UserFactory(email="us.approver@example.org", organisation=self.us, role="approver"),
            "admin": UserFactory(email="admin@example.org", organisation=self.uk, role="staff", is_portal_admin=True,
                                 is_staff=True),
            "partner_viewer": UserFactory(email="partner.viewer@example.org", organisation=self.partner,
                                          role="partner_viewer"),
            "other_partner_viewer": UserFactory(email="other.partner@example.org", organisation=self.other_partner,
                                                role="partner_viewer"),
        }
        self.exercise = ExerciseFactory(name="Joint Exercise Alpha", institutes=[self.uk, self.us],
                                        partners=[self.partner])
        self.uk_only_exercise = ExerciseFactory(name="UK and Third", institutes=[self.uk, self.third])
        admin = self.users["admin"]
        created = invitation_create(actor=admin, email="new.person@example.org", organisation=self.uk, role="staff")
        self.invitation, self.invitation_token = created.invitation, created.token
        self.token = api_token_create(user=self.users["uk_staff"], scope="write").token
        self.audit_event = audit_record(actor=self.users["uk_staff"], action="test.exercise_event",
                                        obj=self.exercise, exercise_id=self.exercise.pk)
        self.admin_event = audit_record(actor=admin, action="test.admin_event")
        for extension in _EXTENSIONS:
            extension(self)

    def __getattr__(self, name: str) -> Any:
        users = self.__dict__.get("users", {})
        if name in users:
            return users[name]
        raise AttributeError(name)
