import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from evaluations.inspectai import catalogue as inspect_catalogue
from evaluations.models import TaskVersion
from evaluations.services import catalogue as services
from tests.support.registry import api_client_for, errors_of, make_model

BASE_DIR = Path(__file__).resolve().parents[2]


def test_catalogue_lists_the_builtins_and_inspect_evals_with_network_needs():
    entries = {e.name: e for e in inspect_catalogue.catalogue_entries()}
    for name in ("arithmetic", "capital_cities", "instruction_following"):
        assert entries[name].source == "portal" and not entries[name].needs_network and entries[name].description
    assert entries["inspect_evals/gsm8k"].needs_network
    assert any("gsm8k" in d for d in entries["inspect_evals/gsm8k"].downloads)
    assert len([e for e in entries.values() if e.source == "inspect_evals"]) > 100


@pytest.mark.parametrize("name,args,fragment", [
    ("arithmetic", {"limitt": 3}, "has no argument 'limitt'"),
    ("inspect_evals/gsm8k", {"shots": 5}, "has no argument 'shots' (its arguments: fewshot, fewshot_seed, shuffle_fewshot)"),
    ("nosuch_task", {}, "is not a task in the catalogue"),
])
def test_task_arguments_are_checked_against_the_signature(name, args, fragment):
    with pytest.raises(ValidationError) as info:
        inspect_catalogue.task_args_validate(registry_name=name, args=args)
    assert fragment in " ".join(info.value.messages)


def test_a_missing_required_argument_is_named():
    from evaluations.inspectai.tasks import portal_dataset

    with pytest.raises(ValidationError, match="needs the argument 'task_version_id'"):
        inspect_catalogue.signature_check(fn=portal_dataset, registry_name="portal_dataset", args={})


def test_valid_arguments_pass():
    assert inspect_catalogue.task_args_validate(registry_name="inspect_evals/gsm8k", args={"fewshot": 0}) == {"fewshot": 0}
    assert inspect_catalogue.task_args_validate(registry_name="arithmetic", args=None) == {}


@pytest.mark.django_db
def test_registry_task_through_api_and_a_new_version_on_edit(sign_in, uk_staff, us_staff, exercise):
    api = api_client_for(uk_staff, sign_in)
    response = api.post("/api/v1/tasks/", {"exercise": exercise.pk, "name": "GSM8K zero-shot",
                                           "registry_name": "inspect_evals/gsm8k", "args": {"fewshot": 0}},
                        format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["registry_name"] == "inspect_evals/gsm8k" and data["args"] == {"fewshot": 0}
    assert data["versions"][0]["needs_network"] is True
    bad = api.post("/api/v1/tasks/", {"exercise": exercise.pk, "name": "x", "registry_name": "arithmetic",
                                      "args": {"nope": 1}}, format="json")
    assert bad.status_code == 400 and "nope" in json.dumps(bad.json())
    patch = api.patch(f"/api/v1/tasks/{data['id']}/", {"args": {"fewshot": 3}}, format="json")
    assert patch.status_code == 200 and patch.json()["version"] == 2
    assert TaskVersion.objects.get(eval_task_id=data["id"], number=1).args == {"fewshot": 0}
    us_view = api_client_for(us_staff, sign_in).get(f"/api/v1/tasks/{data['id']}/")
    assert us_view.status_code == 200


@pytest.mark.django_db
def test_catalogue_page_and_api_list_installed_tasks(client, sign_in, uk_staff):
    sign_in(client, uk_staff)
    page = client.get("/tasks/catalogue/?q=capital")
    assert page.status_code == 200 and "capital_cities" in page.content.decode()
    offline = client.get("/tasks/catalogue/?q=gsm8k&offline=1").content.decode()
    assert "inspect_evals/gsm8k" not in offline
    api = api_client_for(uk_staff, sign_in).get("/api/v1/tasks/catalogue/?q=gsm8k").json()
    assert any(e["name"] == "inspect_evals/gsm8k" and e["needs_network"] for e in api["results"])


@pytest.mark.django_db
def test_ui_creates_a_catalogue_task_and_reports_bad_arguments(client, sign_in, uk_staff, exercise):
    sign_in(client, uk_staff)
    bad = client.post("/tasks/new/catalogue/", {"name": "A", "exercises": [exercise.pk],
                                                "registry_name": "arithmetic", "args": '{"limitt": 2}'})
    assert bad.status_code == 400 and "has no argument" in errors_of(bad).replace("&#x27;", "'")
    good = client.post("/tasks/new/catalogue/", {"name": "A", "exercises": [exercise.pk],
                                                 "registry_name": "arithmetic", "args": '{"limit": 2}'})
    assert good.status_code == 302, errors_of(good)


@pytest.mark.django_db
def test_model_graded_scorer_needs_a_visible_grader(uk_staff, exercise, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    csv = SimpleUploadedFile("d.csv", b"input,target\nq,a\n")
    with pytest.raises(ValidationError, match="grader"):
        services.task_create_dataset(user=uk_staff, name="G", exercises=[exercise], upload=csv,
                                     scorer="model_graded_qa")
    grader = make_model(uk_staff, exercise, name="Grader", provider_model="mockllm/model", base_url="")
    task = services.task_create_dataset(user=uk_staff, name="G", exercises=[exercise], upload=csv,
                                        scorer="model_graded_qa", grader_model_version=grader.current_version.pk)
    assert task.current_version.grader_model_version == grader.current_version


@pytest.mark.django_db
def test_pattern_scorer_needs_a_group(uk_staff, exercise):
    with pytest.raises(ValidationError, match="one group"):
        services.solver_scorer_validate(user=uk_staff, solver="generate", solver_args={}, scorer="pattern",
                                        scorer_args={"pattern": "ANSWER"}, grader_model_version=None)


EVAL_SCRIPT = textwrap.dedent("""
    import json, sys
    import django
    django.setup()
    from inspect_ai import eval
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    import evaluations.inspectai.tasks as t

    answers = {"arithmetic": ["5"], "capital_cities": ["Paris"], "instruction_following": ["Blue"]}
    def outputs(text):
        def make(*args, **kwargs):
            o = ModelOutput.from_content("mockllm/model", text)
            o.usage = ModelUsage(input_tokens=5, output_tokens=1, total_tokens=6)
            return o
        return make
    result = {}
    tasks = [("arithmetic", t.arithmetic(limit=1), "5"), ("capital_cities", t.capital_cities(limit=1), "Paris"),
             ("instruction_following", t.instruction_following(), "Blue")]
    task_version_id = int(sys.argv[1]) if len(sys.argv) > 1 else None
    if task_version_id:
        tasks.append(("portal_dataset", t.portal_dataset(task_version_id=task_version_id), "4"))
    for name, task, text in tasks:
        out = []
        for _ in range(20):
            o = ModelOutput.from_content("mockllm/model", text)
            o.usage = ModelUsage(input_tokens=5, output_tokens=1, total_tokens=6)
            out.append(o)
        model = get_model("mockllm/model", custom_outputs=out, memoize=False)
        log = eval(task, model=model, display="none", log_dir=sys.argv[2] if len(sys.argv) > 2 else "/tmp/evlogs")[0]
        scores = log.results.scores[0].metrics["accuracy"].value if log.results and log.results.scores else None
        result[name] = {"status": log.status, "completed": log.results.completed_samples if log.results else 0,
                        "accuracy": scores}
    print("RESULT " + json.dumps(result))
""")


@pytest.mark.django_db(transaction=True)
def test_builtin_tasks_and_an_uploaded_dataset_run_offline_with_mockllm(uk_staff, exercise, tmp_path, settings):
    import os

    from tests.support.workers import test_database_url

    settings.MEDIA_ROOT = str(tmp_path / "media")
    task = services.task_create_dataset(user=uk_staff, name="D", exercises=[exercise],
                                        upload=SimpleUploadedFile("d.csv", b"id,input,target\na,2+2?,4\nb,3+1?,4\n"))
    env = dict(os.environ, DATABASE_URL=test_database_url(), MEDIA_ROOT=str(tmp_path / "media"),
               DJANGO_SETTINGS_MODULE="portal.settings", HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", EVAL_SCRIPT, str(task.current_version.pk), str(tmp_path / "logs")],
                          cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=240)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads(line[7:])
    assert result["arithmetic"] == {"status": "success", "completed": 1, "accuracy": 1.0}
    assert result["capital_cities"] == {"status": "success", "completed": 1, "accuracy": 1.0}
    assert result["instruction_following"]["status"] == "success"
    assert result["instruction_following"]["completed"] == 5
    assert 0 < result["instruction_following"]["accuracy"] < 1  # "Blue" is one word but not uppercase/number
    assert result["portal_dataset"] == {"status": "success", "completed": 2, "accuracy": 1.0}
