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


def _by_url():
    """The table grouped by (url name, method, path): one database set-up per URL, each actor's request in a
    savepoint that is rolled back, so an archive or delete by one actor does not change the next one's answer."""
    grouped = {}
    for url_name, method, path, actor, expected, data in TABLE:
        grouped.setdefault((url_name, method, path), {"data": data, "expected": {}})["expected"][actor] = expected
    return grouped


GROUPED = _by_url()


@pytest.mark.parametrize("key", list(GROUPED), ids=[f"{m.upper()} {p}" for _, m, p in GROUPED])
def test_permission_table(request, client, sign_in, world, key):
    from django.db import transaction

    url_name, method, path = key
    spec = GROUPED[key]
    for name in ("uk_staff", "us_staff", "partner_viewer"):  # the related actors exist whoever acts
        request.getfixturevalue(name)
    url = path.format(**world)
    data = spec["data"]
    kwargs = {"data": _fill(data, world) if data is not None else {}, "content_type": "application/json"} \
        if data is not None or method in ("patch", "put") else {}
    mismatches = []
    for actor, expected in spec["expected"].items():
        client.logout()
        if actor != "anonymous":
            sign_in(client, request.getfixturevalue(actor))
        with transaction.atomic():
            response = getattr(client, method)(url, **kwargs)
            transaction.set_rollback(True)
        if response.status_code != expected:
            mismatches.append(f"{method.upper()} {url} as {actor}: {response.status_code}, expected {expected}")
    assert not mismatches, "\n".join(mismatches)


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
