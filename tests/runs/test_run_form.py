"""The run form (issue 12): models and evaluations of the chosen exercise only (a reload without JavaScript, an htmx
fragment with it), each once with its newest version and older ones under a disclosure, the exercise last worked in
by default, the number of items, and schedule fields revealed under their choice."""

from __future__ import annotations

import re

import pytest

from evaluations.models import ModelVersion
from evaluations.services.runs import run_create
from tests.support.factories import ExerciseFactory, model_version, task_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_exercises(exercise, uk_aisi, us_aisi, uk_staff):
    beta = ExerciseFactory(name="Exercise Beta", institutes=[uk_aisi, us_aisi])
    alpha_model = model_version(exercise=exercise, user=uk_staff, name="Alpha model")
    ModelVersion.objects.create(registered_model=alpha_model.registered_model, number=2,
                                provider_model="mockllm/model-v2", created_by=uk_staff)
    task_version(exercise=exercise, user=uk_staff, name="alpha task")
    beta_model = model_version(exercise=beta, user=uk_staff, name="Beta model")
    beta_task = task_version(exercise=beta, user=uk_staff, name="beta task")
    return {"alpha": exercise, "beta": beta, "beta_model": beta_model, "beta_task": beta_task,
            "alpha_model": alpha_model}


def _html(client, url, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_form_offers_only_the_chosen_exercises_models_and_evaluations(client, sign_in, uk_staff, two_exercises):
    sign_in(client, uk_staff)
    beta = two_exercises["beta"]
    html = _html(client, f"/runs/new/?exercise={beta.pk}")
    assert "Beta model" in html and "beta task" in html
    assert "Alpha model" not in html and "alpha task" not in html
    assert re.search(rf'<option value="{beta.pk}" selected>', html)


def test_without_javascript_a_button_reloads_the_form_for_the_chosen_exercise(client, sign_in, uk_staff,
                                                                              two_exercises):
    sign_in(client, uk_staff)
    html = _html(client, "/runs/new/")
    assert 'formmethod="get"' in html and "Show models and evaluations of this exercise" in html
    # the browser submits the whole form by GET: only the exercise counts
    alpha = two_exercises["alpha"]
    html = _html(client, f"/runs/new/?exercise={alpha.pk}&name=x&limit=3&model_versions=999")
    assert "Alpha model" in html and "Beta model" not in html


def test_with_htmx_the_exercise_change_returns_only_the_choices(client, sign_in, uk_staff, two_exercises):
    sign_in(client, uk_staff)
    beta = two_exercises["beta"]
    html = _html(client, f"/runs/new/?exercise={beta.pk}", **{"HX-Request": "true"})
    assert 'id="run-choices"' in html and "<html" not in html
    assert "Beta model" in html and "Alpha model" not in html


def test_each_model_is_offered_once_with_its_newest_version_and_older_ones_under_a_disclosure(
        client, sign_in, uk_staff, two_exercises):
    sign_in(client, uk_staff)
    alpha = two_exercises["alpha"]
    html = _html(client, f"/runs/new/?exercise={alpha.pk}")
    newest = ModelVersion.objects.get(registered_model=two_exercises["alpha_model"].registered_model, number=2)
    main = html.split('<details class="govuk-details"', 1)[0]
    assert f'value="{newest.pk}"' in main and f'value="{two_exercises["alpha_model"].pk}"' not in main
    assert "Older versions of Alpha model" in html
    assert html.count(">Alpha model <span") == 1


def test_the_form_defaults_to_the_exercise_the_user_last_planned_a_run_in(client, sign_in, uk_staff, two_exercises):
    beta = two_exercises["beta"]
    run_create(actor=uk_staff, exercise=beta, models=[two_exercises["beta_model"]], tasks=[two_exercises["beta_task"]],
               options={"name": "Earlier run"})
    sign_in(client, uk_staff)
    html = _html(client, "/runs/new/")
    assert "Beta model" in html and "Alpha model" not in html


def test_a_version_from_another_exercise_is_refused_with_a_message_naming_the_field(client, sign_in, uk_staff,
                                                                                    two_exercises):
    sign_in(client, uk_staff)
    alpha = two_exercises["alpha"]
    response = client.post("/runs/new/", {"exercise": alpha.pk, "model_versions": [two_exercises["beta_model"].pk],
                                          "task_versions": [two_exercises["beta_task"].pk], "epochs": 1,
                                          "schedule": "now"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Choose at least one model from the options given" in html
    assert re.search(r"<title>Error: ", html)
    assert 'href="#id_model_versions"' in html and 'id="id_model_versions"' in html


def test_the_preview_counts_the_items_the_choice_makes(client, sign_in, uk_staff, two_exercises):
    sign_in(client, uk_staff)
    alpha = two_exercises["alpha"]
    versions = list(ModelVersion.objects.filter(registered_model__exercises=alpha))
    response = client.post("/runs/new/", {"exercise": alpha.pk, "model_versions": [v.pk for v in versions],
                                          "epochs": 1, "schedule": "now"})
    text = re.sub(r"<[^>]+>|\s+", " ", response.content.decode())
    assert re.search(r"2 models × 0 evaluations = 0 items to run", re.sub(r"\s+", " ", text))


def test_schedule_fields_are_revealed_only_under_their_choice(client, sign_in, uk_staff, two_exercises):
    sign_in(client, uk_staff)
    html = _html(client, "/runs/new/")
    at = re.search(r'<div class="govuk-radios__conditional([^"]*)" id="conditional-id_schedule_1">(.*?)</div>\s*'
                   r'(?=<div class="govuk-radios__item">)', html, re.S)
    assert at and "--hidden" in at.group(1) and 'name="run_at"' in at.group(2)
    assert 'data-aria-controls="conditional-id_schedule_1"' in html
    assert 'data-aria-controls="conditional-id_schedule_2"' in html
