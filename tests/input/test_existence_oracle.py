"""No existence oracle in run creation and log import: naming an exercise, a model (version) or an evaluation
(version) the user may not see gets exactly the answer naming one that does not exist (same status, same message
once the id itself is set aside), in the API and on the pages.

The hidden objects belong to an exercise of UK AISI and a third institute: US staff may not see any of them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from evaluations.models import Run
from tests.input.support import response_forms
from tests.support.factories import ExerciseFactory, OrganisationFactory, model_version, task_version
from tests.support.helpers import sign_in

pytestmark = pytest.mark.django_db

MISSING = 987_654


@pytest.fixture
def world(exercise, uk_aisi, uk_staff, us_staff):
    third = OrganisationFactory(name="Third Institute", kind="institute", country_code="FR")
    hidden_exercise = ExerciseFactory(name="UK and Third", institutes=[uk_aisi, third])
    return {
        "client": sign_in(Client(), us_staff),
        "exercise": exercise,
        "model": model_version(exercise=exercise, user=us_staff, name="US model"),
        "task": task_version(exercise=exercise, user=us_staff, name="US task"),
        "hidden_exercise": hidden_exercise,
        "hidden_model": model_version(exercise=hidden_exercise, user=uk_staff, name="Hidden model"),
        "hidden_task": task_version(exercise=hidden_exercise, user=uk_staff, name="Hidden task"),
    }


def _normalised(text: str, pk: int) -> str:
    return text.replace(str(pk), "<id>")


def _api_answer(response: Any, pk: int) -> tuple[int, str]:
    return response.status_code, _normalised(json.dumps(response.json(), sort_keys=True), pk)


def _page_answer(response: Any, pk: int) -> tuple[int, str]:
    errors = {name: [str(e) for e in errs] for form in response_forms(response) for name, errs in form.errors.items()}
    return response.status_code, _normalised(json.dumps(errors, sort_keys=True), pk)


# Each case: a name, how to build the request from (world, the id to name), and how to read the answer.
API_CASES = {
    "API create: exercise": lambda w, pk: ("/api/v1/runs/", {
        "exercise": pk, "model_versions": [w["model"].pk], "task_versions": [w["task"].pk]}),
    "API create: model version": lambda w, pk: ("/api/v1/runs/", {
        "exercise": w["exercise"].pk, "model_versions": [pk], "task_versions": [w["task"].pk]}),
    "API create: evaluation version": lambda w, pk: ("/api/v1/runs/", {
        "exercise": w["exercise"].pk, "model_versions": [w["model"].pk], "task_versions": [pk]}),
    "API create: model": lambda w, pk: ("/api/v1/runs/", {
        "exercise": w["exercise"].pk, "models": [pk], "tasks": [w["task"].eval_task_id]}),
    "API create: evaluation": lambda w, pk: ("/api/v1/runs/", {
        "exercise": w["exercise"].pk, "models": [w["model"].registered_model_id], "tasks": [pk]}),
}
HIDDEN = {
    "exercise": lambda w: w["hidden_exercise"].pk,
    "model version": lambda w: w["hidden_model"].pk,
    "evaluation version": lambda w: w["hidden_task"].pk,
    "model": lambda w: w["hidden_model"].registered_model_id,
    "evaluation": lambda w: w["hidden_task"].eval_task_id,
}


@pytest.mark.parametrize("case", list(API_CASES))
def test_the_api_answers_a_hidden_object_as_a_missing_one_when_creating_a_run(world, case):
    hidden_pk = HIDDEN[case.split(": ")[1]](world)
    answers = []
    for pk in (hidden_pk, MISSING):
        path, body = API_CASES[case](world, pk)
        response = world["client"].post(path, json.dumps(body), content_type="application/json",
                                        HTTP_ACCEPT="application/json")
        answers.append(_api_answer(response, pk))
    assert answers[0][0] == 400, answers
    assert answers[0] == answers[1]
    assert not Run.objects.exists()


def test_the_api_answers_a_hidden_exercise_as_a_missing_one_when_importing_a_log(world):
    answers = []
    for pk in (world["hidden_exercise"].pk, MISSING):
        response = world["client"].post("/api/v1/runs/import/", {
            "exercise": pk, "file": SimpleUploadedFile("log.eval", b"PK\x05\x06" + b"\0" * 18)},
            HTTP_ACCEPT="application/json")
        answers.append(_api_answer(response, pk))
    assert answers[0] == (400, '{"detail": "The request has errors; see the fields.", "errors": {"exercise": '
                               '"No such exercise."}}')
    assert answers[0] == answers[1]


def test_the_api_answers_a_hidden_model_as_a_missing_one_when_editing_a_run(world, us_staff):
    from evaluations.services.runs import run_create

    run = run_create(actor=us_staff, exercise=world["exercise"], models=[world["model"]], tasks=[world["task"]],
                     options={"name": "Mine"})
    answers = []
    for pk in (world["hidden_model"].pk, MISSING):
        response = world["client"].patch(f"/api/v1/runs/{run.pk}/", json.dumps({"model_versions": [pk]}),
                                         content_type="application/json", HTTP_ACCEPT="application/json")
        answers.append(_api_answer(response, pk))
    assert answers[0][0] == 400
    assert answers[0] == answers[1]


PAGE_CASES = {
    "page create: exercise": lambda w, pk: {"exercise": pk, "model_versions": [w["model"].pk],
                                            "task_versions": [w["task"].pk], "epochs": 1, "schedule": "now"},
    "page create: model version": lambda w, pk: {"exercise": w["exercise"].pk, "model_versions": [pk],
                                                 "task_versions": [w["task"].pk], "epochs": 1, "schedule": "now"},
    "page create: evaluation version": lambda w, pk: {"exercise": w["exercise"].pk, "model_versions": [w["model"].pk],
                                                      "task_versions": [pk], "epochs": 1, "schedule": "now"},
}


@pytest.mark.parametrize("case", list(PAGE_CASES))
def test_the_run_page_answers_a_hidden_object_as_a_missing_one(world, case):
    hidden_pk = HIDDEN[case.split(": ")[1]](world)
    answers = []
    for pk in (hidden_pk, MISSING):
        response = world["client"].post("/runs/new/", PAGE_CASES[case](world, pk))
        answers.append(_page_answer(response, pk))
    assert answers[0][1] != "{}", "the form was accepted"
    assert answers[0] == answers[1]
    assert not Run.objects.exists()


def test_the_import_page_answers_a_hidden_exercise_as_a_missing_one(world):
    answers = []
    for pk in (world["hidden_exercise"].pk, MISSING):
        response = world["client"].post("/runs/import/", {
            "exercise": pk, "file": SimpleUploadedFile("log.eval", b"PK\x05\x06" + b"\0" * 18)})
        answers.append(_page_answer(response, pk))
    assert "exercise" in answers[0][1]
    assert answers[0] == answers[1]
