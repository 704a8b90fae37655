"""Permission table of every registry and catalogue URL: (url, method, actor) -> status (ROLES.md).

Objects: a model and a task owned by UK AISI in an exercise both institutes take part in (`shared`), and a
model owned by UK AISI in a UK-only exercise (`uk_only`). Anonymous UI requests go to the login page (302); an
anonymous API request is 401. Partner viewers get 404 everywhere (they see nothing of the registry)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver

from evaluations.models import ConnectionTest
from evaluations.services.catalogue import task_create_dataset
from evaluations.services.registry import credential_set
from tests.factories import ExerciseFactory
from tests.test_registry_support import make_model, make_registry_task

pytestmark = pytest.mark.django_db

ACTORS = ["anonymous", "uk_staff", "uk_approver", "us_staff", "us_approver", "admin_user", "partner_viewer",
          "other_partner_viewer"]
PARTNERS = {"partner_viewer": 404, "other_partner_viewer": 404}


def row(url_name, method, path, owner_ok, other_inst, admin, anon=302, *, us_approver=None, data=None):
    """Expand one URL into rows per actor. owner_ok: UK staff/approver; other_inst: US staff/approver."""
    statuses = {"anonymous": anon, "uk_staff": owner_ok, "uk_approver": owner_ok, "us_staff": other_inst,
                "us_approver": us_approver if us_approver is not None else other_inst, "admin_user": admin, **PARTNERS}
    return [(url_name, method, path, actor, statuses[actor], data) for actor in ACTORS]


MODEL_JSON = {"exercise": "{shared_exercise}", "name": "New", "model": "mockllm/model", "config": {}}
TASK_JSON = {"exercise": "{shared_exercise}", "name": "New task", "registry_name": "arithmetic", "args": {}}

TABLE = [
    # --- UI: model registry
    *row("model-list", "get", "/models/", 200, 200, 200),
    *row("model-create", "get", "/models/new/", 200, 200, 403),
    *row("model-detail", "get", "/models/{shared}/", 200, 200, 200),
    *row("model-detail", "get", "/models/{uk_only}/", 200, 404, 200),
    *row("model-edit", "get", "/models/{shared}/edit/", 200, 403, 403),
    *row("model-edit", "get", "/models/{uk_only}/edit/", 200, 404, 403),
    *row("model-credential", "get", "/models/{shared}/credential/", 200, 403, 403),
    *row("model-archive", "post", "/models/{shared}/archive/", 302, 403, 403),
    *row("model-test-connection", "post", "/models/{shared}/test-connection/", 302, 403, 403),
    *row("model-connection-test", "get", "/models/{shared}/connection-tests/{connection_test}/", 200, 200, 200),
    *row("model-connection-test", "get", "/models/{uk_only}/connection-tests/{connection_test}/", 404, 404, 404),
    # --- UI: catalogue
    *row("task-list", "get", "/tasks/", 200, 200, 200),
    *row("task-catalogue", "get", "/tasks/catalogue/", 200, 200, 200),
    *row("task-create-registry", "get", "/tasks/new/catalogue/", 200, 200, 403),
    *row("task-create-dataset", "get", "/tasks/new/dataset/", 200, 200, 403),
    *row("task-detail", "get", "/tasks/{task}/", 200, 200, 200),
    *row("task-detail", "get", "/tasks/{dataset_task}/", 200, 200, 200),
    *row("task-edit", "get", "/tasks/{task}/edit/", 200, 403, 403),
    *row("task-edit", "get", "/tasks/{dataset_task}/edit/", 200, 403, 403),
    *row("task-archive", "post", "/tasks/{task}/archive/", 302, 403, 403),
    # --- API: models
    *row("api-model-list", "get", "/api/v1/models/", 200, 200, 200, anon=401),
    *row("api-model-list", "post", "/api/v1/models/", 201, 201, 403, anon=401, data=MODEL_JSON),
    *row("api-model-detail", "get", "/api/v1/models/{shared}/", 200, 200, 200, anon=401),
    *row("api-model-detail", "get", "/api/v1/models/{uk_only}/", 200, 404, 200, anon=401),
    *row("api-model-detail", "patch", "/api/v1/models/{shared}/", 200, 403, 403, anon=401, data={"name": "X"}),
    *row("api-model-detail", "put", "/api/v1/models/{shared}/", 200, 403, 403, anon=401, data={"name": "X"}),
    *row("api-model-detail", "delete", "/api/v1/models/{shared}/", 204, 403, 403, anon=401),
    *row("api-model-test-connection", "get", "/api/v1/models/{shared}/test-connection/", 200, 200, 200, anon=401),
    *row("api-model-test-connection", "post", "/api/v1/models/{shared}/test-connection/", 202, 403, 403, anon=401),
    *row("api-model-credential", "delete", "/api/v1/models/{shared}/credential/", 204, 403, 403, anon=401),
    # --- API: tasks
    *row("api-task-list", "get", "/api/v1/tasks/", 200, 200, 200, anon=401),
    *row("api-task-list", "post", "/api/v1/tasks/", 201, 201, 403, anon=401, data=TASK_JSON),
    *row("api-task-catalogue", "get", "/api/v1/tasks/catalogue/", 200, 200, 200, anon=401),
    *row("api-task-detail", "get", "/api/v1/tasks/{task}/", 200, 200, 200, anon=401),
    *row("api-task-detail", "patch", "/api/v1/tasks/{task}/", 200, 403, 403, anon=401, data={"args": {"limit": 2}}),
    *row("api-task-detail", "put", "/api/v1/tasks/{task}/", 200, 403, 403, anon=401, data={"name": "Y"}),
    *row("api-task-detail", "delete", "/api/v1/tasks/{task}/", 204, 403, 403, anon=401),
]


@pytest.fixture
def world(uk_staff, us_staff, uk_aisi, exercise, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    uk_only_exercise = ExerciseFactory(name="UK only", institutes=[uk_aisi])
    shared = make_model(uk_staff, exercise, name="Shared model")
    credential_set(user=uk_staff, registered_model=shared, api_key="sk-permission-table-123456")
    uk_only = make_model(uk_staff, uk_only_exercise, name="UK-only model")
    ConnectionTest.objects.create(registered_model=shared, model_version=shared.current_version,
                                  requested_by=uk_staff, status="succeeded", latency_ms=5)
    task = make_registry_task(uk_staff, exercise)
    dataset_task = task_create_dataset(user=uk_staff, name="Dataset", exercises=[exercise],
                                       upload=SimpleUploadedFile("d.csv", b"input,target\nq,a\n"))
    return {"shared": shared.pk, "uk_only": uk_only.pk, "task": task.pk, "dataset_task": dataset_task.pk,
            "connection_test": shared.connection_tests.get().pk, "shared_exercise": exercise.pk}


def _fill(value, world):
    if isinstance(value, str):
        return int(value.format(**world)) if value.startswith("{") and value.endswith("}") else value.format(**world)
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


@pytest.mark.parametrize("url_name,method,path,actor,expected,data", TABLE,
                         ids=[f"{r[1].upper()} {r[2]} {r[3]}" for r in TABLE])
def test_permission_table(request, client, sign_in, world, url_name, method, path, actor, expected, data):
    # the related actors must exist even when the acting user is someone else
    for name in ("uk_staff", "us_staff", "partner_viewer"):
        request.getfixturevalue(name)
    if actor != "anonymous":
        sign_in(client, request.getfixturevalue(actor))
    url = path.format(**world)
    kwargs = {}
    if data is not None:
        kwargs = {"data": _fill(data, world), "content_type": "application/json"}
    elif method in ("patch", "put"):
        kwargs = {"data": {}, "content_type": "application/json"}
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == expected, response.content[:500]


def _registry_url_names():
    names = set()
    for name in get_resolver().reverse_dict:
        if isinstance(name, str) and (name.startswith(("model-", "task-", "api-model-", "api-task-"))):
            names.add(name)
    return names


def test_every_registry_and_catalogue_url_is_in_the_table():
    covered = {r[0] for r in TABLE}
    missing = _registry_url_names() - covered
    assert not missing, f"URLs missing from the permission table: {sorted(missing)}"
