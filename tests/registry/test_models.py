import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from evaluations.models import ModelCredential, ModelVersion, RegisteredModel
from evaluations.services import registry as services
from portal.models import AuditEvent
from tests.support.registry import (
    api_client_for,
    errors_of,
    make_model,
    make_registry_task,
    model_payload,
)

pytestmark = pytest.mark.django_db


def test_uk_staff_registers_a_model_with_a_key_through_the_ui(client, sign_in, uk_staff, exercise):
    sign_in(client, uk_staff)
    response = client.post("/models/new/", {
        "name": "Gemma local", "exercises": [exercise.pk], "provider_model": "openai-api/local/gemma",
        "base_url": "https://models.example.org/v1", "max_connections": 3, "temperature": "0.5",
        "max_tokens": "64", "stop_seqs": "###\nEND", "api_key": "sk-ui-key-123456789",
        "extra_headers": "X-Org: alpha",
    })
    assert response.status_code == 302, errors_of(response)
    model = RegisteredModel.objects.get(name="Gemma local")
    assert model.owner == uk_staff.organisation
    version = model.current_version
    assert version.number == 1
    assert version.config == {"temperature": 0.5, "max_tokens": 64, "stop_seqs": ["###", "END"]}
    assert version.max_connections == 3
    cred = ModelCredential.objects.get(registered_model=model)
    assert cred.set_by == uk_staff and cred.header_names == ["X-Org"]
    page = client.get(f"/models/{model.pk}/").content.decode()
    assert "Set by uk.staff@example.org" in page
    assert "sk-ui-key-123456789" not in page
    actions = list(AuditEvent.objects.filter(object_id=str(model.pk)).order_by("id").values_list("action", flat=True))
    assert actions == ["model.create", "model.credential_set"]


def test_ui_form_shows_an_error_summary_for_an_unknown_provider(client, sign_in, uk_staff, exercise):
    sign_in(client, uk_staff)
    response = client.post("/models/new/", {"name": "X", "exercises": [exercise.pk], "provider_model": "nosuch/model",
                                            "max_connections": 1})
    assert response.status_code == 400
    body = response.content.decode()
    assert "govuk-error-summary" in body and "no model provider called" in body
    assert not RegisteredModel.objects.exists()


@pytest.mark.parametrize("value", ["openai/gpt-4o", "anthropic/claude-3-5-sonnet", "google/gemini-1.5-pro",
                                   "openai-api/local/gemma", "openai-api-completions/llamacpp/gemma3-270m",
                                   "hf/openai-community/gpt2", "vllm/meta/llama", "ollama/llama3", "mockllm/model"])
def test_inspect_model_strings_inspect_accepts_are_accepted(value):
    assert services.provider_model_validate(value) == value


@pytest.mark.parametrize("value,fragment", [
    ("", "Enter the Inspect model"), ("gpt-4o", "provider/model"), ("nosuch/model", "no model provider"),
    ("openai-api/gemma", "openai-api/<service>/<model>"), ("mockllm/other", "mockllm/model"),
    ("openai/gpt 4o", "no spaces"),
])
def test_bad_inspect_model_strings_are_refused_clearly(value, fragment):
    with pytest.raises(ValidationError) as info:
        services.provider_model_validate(value)
    assert fragment in " ".join(info.value.messages)


@pytest.mark.parametrize("config,fragment", [
    ({"temperature": 3}, "temperature must be between 0 and 2"),
    ({"top_p": 1.5}, "top_p"),
    ({"max_tokens": 0}, "max_tokens must be between 1 and 10,000,000"),
    ({"max_tokens": 10**30}, "max_tokens must be between 1 and 10,000,000"),
    ({"seed": "abc"}, "seed"),
    ({"stop_seqs": "###"}, "stop_seqs"),
    ({"temprature": 0.1}, "Unknown or disallowed generation settings: temprature"),
    ({"extra_headers": {"Authorization": "x"}}, "extra_headers"),
])
def test_generation_settings_are_validated_against_generate_config(config, fragment):
    with pytest.raises(ValidationError) as info:
        services.generation_config_validate(config)
    assert fragment in " ".join(info.value.messages)


def test_valid_generation_settings_are_kept():
    config = {"temperature": 0.2, "max_tokens": 10, "seed": 7, "top_p": 0.9, "stop_seqs": ["\n"], "top_k": 5}
    assert services.generation_config_validate(config) == config


def test_changing_what_is_called_makes_a_new_version_and_the_page_shows_the_diff(client, sign_in, uk_staff, exercise):
    model = make_model(uk_staff, exercise)
    _, version = services.model_update(user=uk_staff, registered_model=model, name="Renamed")
    assert version is None and model.versions.count() == 1
    _, version = services.model_update(user=uk_staff, registered_model=model, config={"temperature": 0.7},
                                       max_connections=8)
    assert version.number == 2
    first = ModelVersion.objects.get(registered_model=model, number=1)
    assert first.config == {"temperature": 0.0} and first.max_connections == 4  # never edited
    sign_in(client, uk_staff)
    page = client.get(f"/models/{model.pk}/").content.decode()
    assert "Setting temperature" in page and "0.7" in page and "Max connections" in page


def test_edit_page_saves_a_new_version(client, sign_in, uk_staff, exercise):
    model = make_model(uk_staff, exercise)
    sign_in(client, uk_staff)
    form = client.get(f"/models/{model.pk}/edit/")
    assert form.status_code == 200
    response = client.post(f"/models/{model.pk}/edit/", {
        "name": model.name, "exercises": [exercise.pk], "provider_model": "openai-api/local/gemma-2",
        "base_url": "https://models.example.org/v1", "max_connections": 4, "temperature": "0.0"})
    assert response.status_code == 302, errors_of(response)
    assert model.current_version.number == 2
    assert model.current_version.provider_model == "openai-api/local/gemma-2"


def test_api_create_returns_the_contract_fields_and_never_the_key(sign_in, uk_staff, exercise):
    api = api_client_for(uk_staff, sign_in)
    response = api.post("/api/v1/models/", model_payload(exercise, api_key="sk-api-key-abcdefghij"), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    for key in ("exercise", "name", "model", "base_url", "max_connections", "config"):
        assert key in data
    assert "api_key" not in data and "sk-api-key" not in response.content.decode()
    assert data["credential"]["set_by"] == "uk.staff@example.org"
    patch = api.patch(f"/api/v1/models/{data['id']}/", {"config": {"temperature": 0.3}}, format="json")
    assert patch.status_code == 200 and patch.json()["version"] == 2
    listing = api.get("/api/v1/models/?q=gemma").json()
    assert listing["count"] == 1


def test_api_validation_errors_name_the_fields(sign_in, uk_staff, exercise):
    api = api_client_for(uk_staff, sign_in)
    response = api.post("/api/v1/models/", model_payload(exercise, model="nosuch/x", config={"temperature": 9}),
                        format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "provider_model" in errors and "config" in errors
    assert not RegisteredModel.objects.exists()


def test_model_in_an_exercise_the_user_is_not_in_is_refused(uk_staff, us_aisi):
    from tests.support.factories import ExerciseFactory

    us_only = ExerciseFactory(name="US only", institutes=[us_aisi])
    with pytest.raises(ValidationError):
        make_model(uk_staff, us_only)


def test_admin_and_partner_cannot_register_models(admin_user, partner_viewer, exercise):
    for user in (admin_user, partner_viewer):
        with pytest.raises(PermissionDenied):
            make_model(user, exercise)


def test_us_staff_cannot_edit_or_set_the_key_of_a_uk_model(uk_staff, us_staff, exercise):
    model = make_model(uk_staff, exercise)
    with pytest.raises(PermissionDenied):
        services.model_update(user=us_staff, registered_model=model, name="x")
    with pytest.raises(PermissionDenied):
        services.credential_set(user=us_staff, registered_model=model, api_key="k")


def test_archive_hides_a_model_from_lists_and_is_audited(uk_staff, exercise):
    from evaluations.selectors.registry import model_list

    model = make_model(uk_staff, exercise)
    services.model_archive(user=uk_staff, registered_model=model)
    assert not model_list(user=uk_staff).exists()
    assert AuditEvent.objects.filter(action="model.archive", object_id=str(model.pk)).exists()


def test_seed_evaluations_is_idempotent(uk_staff, exercise):
    from evaluations.demo import seed_evaluations
    from evaluations.models import EvalTask

    seed_evaluations(exercise=exercise, created_by=uk_staff)
    seed_evaluations(exercise=exercise, created_by=uk_staff)
    assert RegisteredModel.objects.filter(versions__provider_model="mockllm/model").count() == 2  # two demo configs
    assert sorted(EvalTask.objects.values_list("versions__registry_name", flat=True)) == [
        "arithmetic", "capital_cities", "instruction_following"]


def test_list_pages_use_a_constant_number_of_queries(client, sign_in, uk_staff, exercise):
    from evaluations.services.registry import credential_set

    sign_in(client, uk_staff)

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/models/").status_code == 200
            assert client.get("/api/v1/models/").status_code == 200
            assert client.get("/tasks/").status_code == 200
            assert client.get("/api/v1/tasks/").status_code == 200
        return len(ctx.captured_queries)

    def add(i):
        model = make_model(uk_staff, exercise, name=f"m{i}")
        credential_set(user=uk_staff, registered_model=model, api_key="k-123456789")
        make_registry_task(uk_staff, exercise, name=f"t{i}")

    add(0)
    count_queries()  # warm up (session bookkeeping on the first requests)
    small = count_queries()
    for i in range(1, 12):
        add(i)
    assert count_queries() == small


def test_htmx_test_connection_returns_a_polling_fragment(client, sign_in, uk_staff, exercise):
    model = make_model(uk_staff, exercise, provider_model="mockllm/model", base_url="")
    sign_in(client, uk_staff)
    response = client.post(f"/models/{model.pk}/test-connection/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="connection-test"' in body and "every 2s" in body and "<html" not in body
    assert AuditEvent.objects.filter(action="model.test_connection", object_id=str(model.pk)).exists()


def test_a_key_can_be_replaced_and_removed_through_ui_and_api(client, sign_in, uk_staff, exercise):
    model = make_model(uk_staff, exercise)
    sign_in(client, uk_staff)
    response = client.post(f"/models/{model.pk}/credential/", {"api_key": "sk-first-key-123456"})
    assert response.status_code == 302
    assert ModelCredential.objects.filter(registered_model=model).exists()
    response = client.post(f"/models/{model.pk}/credential/", {"action": "clear"})
    assert response.status_code == 302
    assert not ModelCredential.objects.filter(registered_model=model).exists()
    api = api_client_for(uk_staff, sign_in)
    api.patch(f"/api/v1/models/{model.pk}/", {"api_key": "sk-second-key-123456"}, format="json")
    assert api.get(f"/api/v1/models/{model.pk}/").json()["credential"]["set_by"] == "uk.staff@example.org"
    assert api.delete(f"/api/v1/models/{model.pk}/credential/").status_code == 204
    assert api.get(f"/api/v1/models/{model.pk}/").json()["credential"] is None
    actions = list(AuditEvent.objects.filter(object_id=str(model.pk)).order_by("id").values_list("action", flat=True))
    assert actions == ["model.create", "model.credential_set", "model.credential_clear", "model.credential_set",
                       "model.credential_clear"]


def test_no_encryption_key_configured_is_a_clear_error(uk_staff, exercise, settings):
    from django.core.exceptions import ImproperlyConfigured

    model = make_model(uk_staff, exercise)
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is empty"):
        services.credential_set(user=uk_staff, registered_model=model, api_key="sk-abc-123456")
    assert not ModelCredential.objects.exists()
