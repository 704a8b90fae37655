"""Forms of the model registry (rendered with GOV.UK markup in templates/evaluations/models/)."""

from __future__ import annotations

from typing import Any

from django import forms

from evaluations.selectors.exercises import exercises_user_may_add_to
from evaluations.services.registry import GENERATION_BOUNDS, MAX_API_KEY
from portal.forms import PortalForm, json_object_clean
from portal.limits import TEXT_MAX

# Service field names that differ from the form's.
FIELD_MAP = {"config": "other_settings"}


class SecretTextarea(forms.Textarea):
    """A textarea that never shows its value again (extra headers are secrets, like the key)."""

    def format_value(self, value: Any) -> None:
        return None


class ModelForm(PortalForm):
    name = forms.CharField(label="Name", max_length=200)
    exercises: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(label="Exercises", queryset=None, widget=forms.CheckboxSelectMultiple,
                                               help_text="The exercises this model is tested in.")
    provider_model = forms.CharField(
        label="Inspect model", max_length=300,
        help_text="Provider and model as Inspect names them, e.g. openai-api/local/gemma, "
                  "openai-api-completions/llamacpp/gemma3-270m, anthropic/claude-x or mockllm/model.")
    base_url = forms.CharField(label="Base URL (optional)", required=False, max_length=500,
                               help_text="For OpenAI-compatible servers, e.g. https://models.example.org/v1.")
    max_connections = forms.IntegerField(label="Maximum concurrent connections", min_value=1, max_value=1000,
                                         initial=4)
    temperature = forms.FloatField(label="Temperature (optional)", required=False,
                                   min_value=GENERATION_BOUNDS["temperature"][0],
                                   max_value=GENERATION_BOUNDS["temperature"][1])
    max_tokens = forms.IntegerField(label="Maximum tokens (optional)", required=False,
                                    min_value=int(GENERATION_BOUNDS["max_tokens"][0]),
                                    max_value=int(GENERATION_BOUNDS["max_tokens"][1]))
    seed = forms.IntegerField(label="Seed (optional)", required=False, min_value=int(GENERATION_BOUNDS["seed"][0]),
                              max_value=int(GENERATION_BOUNDS["seed"][1]))
    top_p = forms.FloatField(label="Top-p (optional)", required=False, min_value=GENERATION_BOUNDS["top_p"][0],
                             max_value=GENERATION_BOUNDS["top_p"][1])
    stop_seqs = forms.CharField(label="Stop sequences (optional)", required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                max_length=TEXT_MAX, help_text="One per line.")
    other_settings = forms.CharField(label="Other generation settings (optional)", required=False, max_length=TEXT_MAX,
                                     widget=forms.Textarea(attrs={"rows": 3}),
                                     help_text='A JSON object of Inspect GenerateConfig fields, e.g. {"top_k": 40}.')
    price_input_per_million = forms.DecimalField(label="Price per million input tokens (optional)", required=False,
                                                  min_value=0, max_digits=12, decimal_places=4)
    price_output_per_million = forms.DecimalField(label="Price per million output tokens (optional)", required=False,
                                                  min_value=0, max_digits=12, decimal_places=4)
    notes = forms.CharField(label="Notes (optional)", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            max_length=TEXT_MAX,
                            help_text="Model card link, version, access terms.")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exercises"].queryset = exercises_user_may_add_to(user)  # type: ignore[attr-defined]

    def clean_other_settings(self) -> dict[str, Any]:
        return json_object_clean(self.cleaned_data.get("other_settings"), example='{"top_k": 40}',
                                 name="the other generation settings")

    def config(self) -> dict[str, Any]:
        d = self.cleaned_data
        config = dict(d.get("other_settings") or {})
        for key in ("temperature", "max_tokens", "seed", "top_p"):
            if d.get(key) is not None:
                config[key] = d[key]
        stops = [s for s in (d.get("stop_seqs") or "").splitlines() if s]
        if stops:
            config["stop_seqs"] = stops
        return config


class CreateModelForm(ModelForm):
    api_key = forms.CharField(label="API key (optional)", required=False, widget=forms.PasswordInput(
        render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
                              max_length=MAX_API_KEY, help_text="Stored encrypted. Nobody can read it back, you included.")
    extra_headers = forms.CharField(label="Extra headers (optional)", required=False, max_length=TEXT_MAX,
                                    widget=SecretTextarea(attrs={"rows": 2, "autocomplete": "off"}),
                                    help_text="One per line as Name: value. Stored encrypted with the key.")


class CredentialForm(PortalForm):
    api_key = forms.CharField(label="API key", widget=forms.PasswordInput(
        render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
                              max_length=MAX_API_KEY, help_text="Replaces the stored key. Nobody can read it back.")
    extra_headers = forms.CharField(label="Extra headers (optional)", required=False, max_length=TEXT_MAX,
                                    widget=SecretTextarea(attrs={"rows": 2, "autocomplete": "off"}),
                                    help_text="One per line as Name: value.")
