"""Every write that takes two kinds of change is all or nothing: with one part valid and the other refused, the
answer is a 4xx naming the refused field and the database is exactly as it was (a fingerprint of every table). And
the valid part alone does change something (so the test is not vacuous).

Each row: the endpoint, the actor (who may do the write), the valid change, the refused change, and the field the
refusal names. One world (the permission matrix's); each request runs in a savepoint rolled back after it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from tests.input.support import db_fingerprint, fingerprint_diff, names_field, refused
from tests.permissions.test_matrix import world  # noqa: F401 - the shared fixture


@dataclass
class TwoPartWrite:
    id: str
    actor: str
    method: str
    path: Callable[[Any], str]
    valid: Callable[[Any], dict[str, Any]]
    invalid: Callable[[Any], dict[str, Any]]
    field: str
    kind: str = "json"  # json (API), form (a page), multipart (API upload)


def _dataset(content: bytes, name: str = "d.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


LONG_KEY = "k" * 5000
WRITES = [
    # --- the model registry: model + version + credential ---------------------------------------------------
    TwoPartWrite("API PATCH model: name + a key too long", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/models/{ctx.model.pk}/", lambda ctx: {"name": "Renamed"},
                 lambda ctx: {"api_key": LONG_KEY}, "api_key"),
    TwoPartWrite("API PATCH model: new version + bad extra headers", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/models/{ctx.model.pk}/", lambda ctx: {"base_url": "https://other.example.org/v1"},
                 lambda ctx: {"api_key": "sk-new-0123456789", "extra_headers": {"Bad Header": "x"}}, "extra_headers"),
    TwoPartWrite("API PATCH model: new key + a name too long", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/models/{ctx.model.pk}/", lambda ctx: {"api_key": "sk-new-0123456789"},
                 lambda ctx: {"name": "n" * 300}, "name"),
    TwoPartWrite("API PATCH model: name + bad generation settings", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/models/{ctx.model.pk}/", lambda ctx: {"name": "Renamed"},
                 lambda ctx: {"config": {"temperature": 9}}, "config"),
    TwoPartWrite("API PUT model: name + a Host header", "uk_staff", "PUT",
                 lambda ctx: f"/api/v1/models/{ctx.model.pk}/", lambda ctx: {"name": "Renamed"},
                 lambda ctx: {"api_key": "sk-new-0123456789", "extra_headers": {"Host": "internal"}}, "extra_headers"),
    TwoPartWrite("API POST model: model + a key too long", "uk_staff", "POST", lambda ctx: "/api/v1/models/",
                 lambda ctx: {"name": "New", "exercises": [ctx.exercise.pk], "model": "mockllm/model"},
                 lambda ctx: {"api_key": LONG_KEY}, "api_key"),
    TwoPartWrite("page: register a model + bad extra headers", "uk_staff", "POST", lambda ctx: "/models/new/",
                 lambda ctx: {"name": "New", "exercises": [ctx.exercise.pk], "provider_model": "mockllm/model",
                              "max_connections": "4"},
                 lambda ctx: {"api_key": "sk-new-0123456789", "extra_headers": "no colon here"}, "extra_headers",
                 kind="form"),
    TwoPartWrite("page: edit a model: name + bad settings", "uk_staff", "POST",
                 lambda ctx: f"/models/{ctx.model.pk}/edit/",
                 lambda ctx: {"name": "Renamed", "exercises": [ctx.exercise.pk],
                              "provider_model": "openai-api/local/gemma", "max_connections": "4"},
                 lambda ctx: {"other_settings": '{"top_p": 7}'}, "other_settings", kind="form"),
    # --- the catalogue: task + version ------------------------------------------------------------------------
    TwoPartWrite("API PATCH task: name + unknown argument", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/tasks/{ctx.task.pk}/", lambda ctx: {"name": "Renamed"},
                 lambda ctx: {"args": {"no_such_argument": 1}}, "args"),
    TwoPartWrite("API PATCH task: new arguments + an exercise not taking part", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/tasks/{ctx.task.pk}/", lambda ctx: {"args": {"limit": 2}},
                 lambda ctx: {"exercises": [999_999]}, "exercises"),
    TwoPartWrite("API PATCH dataset task: name + a dataset with a bad row", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/tasks/{ctx.dataset_task.pk}/", lambda ctx: {"name": "Renamed"},
                 lambda ctx: {"dataset": _dataset(b"input,target\nq,\n")}, "dataset", kind="multipart"),
    TwoPartWrite("page: edit a catalogue task: name + bad arguments", "uk_staff", "POST",
                 lambda ctx: f"/tasks/{ctx.task.pk}/edit/",
                 lambda ctx: {"name": "Renamed", "exercises": [ctx.exercise.pk]},
                 lambda ctx: {"args": '{"no_such_argument": 1}'}, "args", kind="form"),
    TwoPartWrite("page: edit a dataset task: name + a dataset with a NUL cell", "uk_staff", "POST",
                 lambda ctx: f"/tasks/{ctx.dataset_task.pk}/edit/",
                 lambda ctx: {"name": "Renamed", "exercises": [ctx.exercise.pk], "solver": "generate",
                              "scorer": "includes"},
                 lambda ctx: {"dataset": _dataset(b"input,target\nq\x00,a\n")}, "dataset", kind="form"),
    # --- runs: options + models x evaluations -----------------------------------------------------------------
    TwoPartWrite("API PATCH run: name + a bad cron expression", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/runs/{ctx.draft_run.pk}/", lambda ctx: {"name": "Renamed"},
                 lambda ctx: {"schedule": "recurring", "cron": "61 * * * *",
                              "approval_valid_until": "2099-01-01T00:00:00Z"}, "cron"),
    TwoPartWrite("API PATCH run: limit + an invisible model", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/runs/{ctx.draft_run.pk}/", lambda ctx: {"limit": 2},
                 lambda ctx: {"models": [999_999]}, "models"),
    TwoPartWrite("API PATCH run: name + a negative cost budget", "uk_staff", "PATCH",
                 lambda ctx: f"/api/v1/runs/{ctx.draft_run.pk}/", lambda ctx: {"name": "Renamed"},
                 lambda ctx: {"cost_budget": "-5"}, "cost_budget"),
    TwoPartWrite("API POST run: a run + sample ids that are not ids", "uk_staff", "POST", lambda ctx: "/api/v1/runs/",
                 lambda ctx: {"exercise": ctx.exercise.pk, "models": [ctx.model.pk], "tasks": [ctx.task.pk]},
                 lambda ctx: {"sample_ids": [{"a": 1}, None]}, "sample_ids"),
    TwoPartWrite("page: edit a run: name + an epoch count out of range", "uk_staff", "POST",
                 lambda ctx: f"/runs/{ctx.draft_run.pk}/edit/",
                 lambda ctx: {"name": "Renamed", "model_versions": [ctx.draft_run.model_versions.get().pk],
                              "task_versions": [ctx.draft_run.task_versions.get().pk], "epochs": "1",
                              "schedule": "now"},
                 lambda ctx: {"epochs": "0"}, "epochs", kind="form"),
    TwoPartWrite("API approve: approval + a reason too long", "us_approver", "POST",
                 lambda ctx: f"/api/v1/runs/{ctx.run.pk}/approve/", lambda ctx: {"revision": ctx.run.revision},
                 lambda ctx: {"reason": "r" * 20_000}, "reason"),
    TwoPartWrite("page: approve: approval + a revision that is not a number", "us_approver", "POST",
                 lambda ctx: f"/runs/{ctx.run.pk}/approve/", lambda ctx: {"reason": "Fine"},
                 lambda ctx: {"revision": "one"}, "revision", kind="form"),
    # --- exercises: fields + members --------------------------------------------------------------------------
    TwoPartWrite("API PATCH exercise: description + one institute only", "admin", "PATCH",
                 lambda ctx: f"/api/v1/exercises/{ctx.exercise.pk}/", lambda ctx: {"description": "Changed"},
                 lambda ctx: {"institutes": [ctx.uk.pk]}, "institutes"),
    TwoPartWrite("API PATCH exercise: partners + an end before the start", "admin", "PATCH",
                 lambda ctx: f"/api/v1/exercises/{ctx.exercise.pk}/", lambda ctx: {"partners": []},
                 lambda ctx: {"starts_on": "2030-02-01", "ends_on": "2030-01-01"}, "ends_on"),
]


def _send(client: Any, write: TwoPartWrite, path: str, body: dict[str, Any]) -> Any:
    if write.kind == "json":
        return client.generic(write.method, path, json.dumps(body), content_type="application/json",
                              HTTP_ACCEPT="application/json")
    if write.kind == "multipart":
        from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

        for value in body.values():
            if hasattr(value, "seek"):
                value.seek(0)
        return client.generic(write.method, path, encode_multipart(BOUNDARY, body), MULTIPART_CONTENT,
                              HTTP_ACCEPT="application/json")
    for value in body.values():
        if hasattr(value, "seek"):
            value.seek(0)
    return client.post(path, data=body)


def _as(client: Any, cookies: dict[str, str], actor: str) -> None:
    client.cookies.clear()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookies[actor]


def _in_savepoint(fn: Callable[[], Any]) -> Any:
    savepoint = transaction.savepoint()
    try:
        return fn()
    finally:
        transaction.savepoint_rollback(savepoint)


@pytest.mark.django_db
@pytest.mark.parametrize("write", WRITES, ids=[w.id for w in WRITES])
def test_a_refused_two_part_write_leaves_the_database_as_it_was(world: Any, write: TwoPartWrite) -> None:  # noqa: F811
    ctx, cookies, client = world
    _as(client, cookies, write.actor)
    path = write.path(ctx)

    def valid_only() -> tuple[int, list[str]]:
        before = db_fingerprint()
        response = _send(client, write, path, write.valid(ctx))
        return response.status_code, fingerprint_diff(before, db_fingerprint())

    status, changed = _in_savepoint(valid_only)
    assert status in (200, 201, 302), f"the valid part alone was refused ({status})"
    assert changed, "the valid part alone changed nothing: the row tests nothing"

    def both() -> tuple[Any, list[str]]:
        before = db_fingerprint()
        response = _send(client, write, path, {**write.valid(ctx), **write.invalid(ctx)})
        return response, fingerprint_diff(before, db_fingerprint())

    response, changed = _in_savepoint(both)
    assert refused(response), f"accepted ({response.status_code}): {response.content[:300]!r}"
    assert 400 <= response.status_code < 500 or response.status_code == 200
    assert not changed, f"refused, but saved: {changed}"
    assert names_field(response, write.field), f"the refusal does not name {write.field}: {response.content[:500]!r}"

