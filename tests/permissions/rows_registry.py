"""Matrix rows for the model registry and the evaluation catalogue (issue 5): pages and API. Row format: see
matrix.py. Replaces the registry branch's own table (tests/test_registry_permissions.py, every row ported), plus
the writes it did not send (form POSTs, the credential form, reading a credential through the API).

Objects (``add_registry``): ``ctx.model`` (UK AISI's, in ``ctx.exercise``, with a credential and one succeeded
connection test ``ctx.connection_test``), ``ctx.uk_only_model`` (UK AISI's, in ``ctx.uk_only_exercise``: the US
does not see it), ``ctx.task`` (a catalogue task) and ``ctx.dataset_task`` (an uploaded dataset), both UK AISI's
in ``ctx.exercise``. Partner viewers see nothing of the registry: 404 everywhere, list pages included."""

from __future__ import annotations

from typing import Any

from tests.permissions.matrix import API_ANON, UI_ANON, Row, context_extension, expect


@context_extension
def add_registry(ctx: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evaluations.models import ConnectionTest
    from evaluations.services.catalogue import task_create_dataset
    from evaluations.services.registry import credential_set
    from tests.support.registry import make_model, make_registry_task

    uk_staff = ctx.users["uk_staff"]
    ctx.model = make_model(uk_staff, ctx.exercise, name="Shared model")
    credential_set(user=uk_staff, registered_model=ctx.model, api_key="sk-permission-matrix-123456")
    ctx.uk_only_model = make_model(uk_staff, ctx.uk_only_exercise, name="UK-only model")
    ctx.connection_test = ConnectionTest.objects.create(
        registered_model=ctx.model, model_version=ctx.model.current_version, requested_by=uk_staff,
        status="succeeded", latency_ms=5)
    ctx.task = make_registry_task(uk_staff, ctx.exercise)
    ctx.dataset_task = task_create_dataset(user=uk_staff, name="Dataset", exercises=[ctx.exercise],
                                           upload=SimpleUploadedFile("d.csv", b"input,target\nq,a\n"))


def R(owner: int, other_institute: int, admin: int, *, anonymous: int = UI_ANON) -> dict[str, Any]:  # noqa: N802
    """owner: UK staff and approver (UK AISI owns every object); other_institute: US staff and approver."""
    return expect(anonymous=anonymous, uk_staff=owner, uk_approver=owner, us_staff=other_institute,
                  us_approver=other_institute, admin=admin, partner_viewer=404, other_partner_viewer=404)


def A(owner: int, other_institute: int, admin: int) -> dict[str, Any]:  # noqa: N802
    return R(owner, other_institute, admin, anonymous=API_ANON)


def _pk(name: str) -> Any:
    return lambda ctx: {"pk": getattr(ctx, name).pk}


MODEL = _pk("model")
UK_ONLY = _pk("uk_only_model")
TASK = _pk("task")
DATASET = _pk("dataset_task")
API_MODEL = "api/v1/^models/(?P<pk>[^/.]+)/$"
API_TASK = "api/v1/^tasks/(?P<pk>[^/.]+)/$"

ROWS: list[Any] = [
    # --- UI: model registry ---------------------------------------------------------------------------------
    Row(route="models/", expect=R(200, 200, 200)),
    Row(route="models/new/", expect=R(200, 200, 403)),
    Row(route="models/new/", method="POST", data=lambda ctx: {}, expect=R(200, 200, 403),
        note="empty form: errors shown to institute staff; admins may not register models"),
    Row(route="models/<int:pk>/", kwargs=MODEL, expect=R(200, 200, 200)),
    Row(route="models/<int:pk>/", kwargs=UK_ONLY, expect=R(200, 404, 200), note="US not in the exercise"),
    Row(route="models/<int:pk>/edit/", kwargs=MODEL, expect=R(200, 403, 403)),
    Row(route="models/<int:pk>/edit/", kwargs=UK_ONLY, expect=R(200, 404, 403)),
    Row(route="models/<int:pk>/edit/", method="POST", kwargs=MODEL, data=lambda ctx: {}, expect=R(200, 403, 403),
        note="empty form: errors for the owner"),
    Row(route="models/<int:pk>/credential/", kwargs=MODEL, expect=R(200, 403, 403),
        note="a write-only form; the key is never shown"),
    Row(route="models/<int:pk>/credential/", method="POST", kwargs=MODEL,
        data=lambda ctx: {"api_key": "sk-permission-matrix-rotated-654321"}, expect=R(302, 403, 403),
        note="credential write: owner institute only, never admin"),
    Row(route="models/<int:pk>/archive/", method="POST", kwargs=MODEL, expect=R(302, 403, 403)),
    Row(route="models/<int:pk>/test-connection/", method="POST", kwargs=MODEL, expect=R(302, 403, 403)),
    Row(route="models/<int:pk>/connection-tests/<int:test_pk>/",
        kwargs=lambda ctx: {"pk": ctx.model.pk, "test_pk": ctx.connection_test.pk}, expect=R(200, 200, 200)),
    Row(route="models/<int:pk>/connection-tests/<int:test_pk>/",
        kwargs=lambda ctx: {"pk": ctx.uk_only_model.pk, "test_pk": ctx.connection_test.pk},
        expect=R(404, 404, 404), note="a test of another model"),

    # --- UI: catalogue --------------------------------------------------------------------------------------
    Row(route="tasks/", expect=R(200, 200, 200)),
    Row(route="tasks/catalogue/", expect=R(200, 200, 200)),
    Row(route="tasks/new/catalogue/", expect=R(200, 200, 403)),
    Row(route="tasks/new/catalogue/", method="POST", data=lambda ctx: {}, expect=R(200, 200, 403),
        note="empty form: errors"),
    Row(route="tasks/new/dataset/", expect=R(200, 200, 403)),
    Row(route="tasks/new/dataset/", method="POST", data=lambda ctx: {}, expect=R(400, 400, 403),
        note="empty upload form: 400 with errors"),
    Row(route="tasks/<int:pk>/", kwargs=TASK, expect=R(200, 200, 200)),
    Row(route="tasks/<int:pk>/", kwargs=DATASET, expect=R(200, 200, 200)),
    Row(route="tasks/<int:pk>/edit/", kwargs=TASK, expect=R(200, 403, 403)),
    Row(route="tasks/<int:pk>/edit/", kwargs=DATASET, expect=R(200, 403, 403)),
    Row(route="tasks/<int:pk>/edit/", method="POST", kwargs=TASK, data=lambda ctx: {}, expect=R(200, 403, 403),
        note="empty form: errors for the owner"),
    Row(route="tasks/<int:pk>/archive/", method="POST", kwargs=TASK, expect=R(302, 403, 403)),

    # --- API: models ----------------------------------------------------------------------------------------
    Row(route="api/v1/^models/$", expect=A(200, 200, 200)),
    Row(route="api/v1/^models/$", method="POST", expect=A(201, 201, 403),
        data=lambda ctx: {"exercise": ctx.exercise.pk, "name": "New", "model": "mockllm/model", "config": {}}),
    Row(route=API_MODEL, kwargs=MODEL, expect=A(200, 200, 200)),
    Row(route=API_MODEL, kwargs=UK_ONLY, expect=A(200, 404, 200), note="US not in the exercise"),
    Row(route=API_MODEL, method="PATCH", kwargs=MODEL, data=lambda ctx: {"name": "X"}, expect=A(200, 403, 403)),
    Row(route=API_MODEL, method="PUT", kwargs=MODEL, data=lambda ctx: {"name": "X"}, expect=A(200, 403, 403)),
    Row(route=API_MODEL, method="DELETE", kwargs=MODEL, expect=A(204, 403, 403)),
    Row(route="api/v1/^models/(?P<pk>[^/.]+)/test-connection/$", kwargs=MODEL, expect=A(200, 200, 200)),
    Row(route="api/v1/^models/(?P<pk>[^/.]+)/test-connection/$", method="POST", kwargs=MODEL,
        expect=A(202, 403, 403)),
    Row(route="api/v1/^models/(?P<pk>[^/.]+)/credential/$", method="DELETE", kwargs=MODEL,
        expect=A(204, 403, 403)),
    Row(route="api/v1/^models/(?P<pk>[^/.]+)/credential/$", kwargs=MODEL, expect=A(405, 405, 405),
        note="a credential is never readable, admins included"),

    # --- API: tasks -----------------------------------------------------------------------------------------
    Row(route="api/v1/^tasks/$", expect=A(200, 200, 200)),
    Row(route="api/v1/^tasks/$", method="POST", expect=A(201, 201, 403),
        data=lambda ctx: {"exercise": ctx.exercise.pk, "name": "New task", "registry_name": "arithmetic",
                          "args": {}}),
    Row(route="api/v1/^tasks/catalogue/$", expect=A(200, 200, 200)),
    Row(route=API_TASK, kwargs=TASK, expect=A(200, 200, 200)),
    Row(route=API_TASK, method="PATCH", kwargs=TASK, data=lambda ctx: {"args": {"limit": 2}}, expect=A(200, 403, 403)),
    Row(route=API_TASK, method="PUT", kwargs=TASK, data=lambda ctx: {"name": "Y"}, expect=A(200, 403, 403)),
    Row(route=API_TASK, method="DELETE", kwargs=TASK, expect=A(204, 403, 403)),
]
