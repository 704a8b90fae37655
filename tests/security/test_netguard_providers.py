"""Pins what the endpoint guard relies on in inspect-ai and openai, so that an upgrade that changes it fails here
loudly: every provider netguard guards takes the ``http_client`` model argument and its OpenAI client sends
through it; netguard's blank-base-URL defaults are the providers' own; providers it cannot guard are refused."""

from __future__ import annotations

import os

import httpx2
import pytest
from inspect_ai.model import get_model

from evaluations.engine import netguard
from evaluations.engine.netguard import GUARDED_PROVIDERS, EndpointPolicy, EndpointRefused
from evaluations.inspectai.model_factory import KNOWN_PROVIDERS

MODEL_NAMES = {"openai-api": "openai-api/svc/m", "openai-api-completions": "openai-api-completions/svc/m",
               "hf-inference-providers": "hf-inference-providers/org/m", "openai": "openai/gpt-4o-mini"}


def model_name(provider: str) -> str:
    return MODEL_NAMES.get(provider, f"{provider}/some-model")


@pytest.mark.parametrize("provider", sorted(GUARDED_PROVIDERS))
def test_each_guarded_provider_sends_through_the_http_client_it_is_given(provider):
    client = httpx2.AsyncClient()
    model = get_model(model_name(provider), base_url="https://models.example.org/v1", api_key="sk-unused",
                      http_client=client, memoize=False)
    assert model.api.http_client is client  # what netguard.verify_guarded checks at run time
    assert model.api.client._client is client  # openai's AsyncOpenAI sends every request through it
    netguard.verify_guarded(model, {"http_client": client})


@pytest.mark.parametrize("provider", sorted(p for p, url in GUARDED_PROVIDERS.items() if url))
def test_netguard_default_for_a_blank_base_url_is_the_providers_own(provider, monkeypatch):
    for name in list(os.environ):
        if name.endswith("_BASE_URL"):
            monkeypatch.delenv(name)
    model = get_model(model_name(provider), api_key="sk-unused", memoize=False)
    assert str(model.api.client.base_url).rstrip("/") == GUARDED_PROVIDERS[provider].rstrip("/")


def test_a_provider_that_ignores_the_guarded_client_is_refused():
    class Api:
        http_client = None

    class Model:
        api = Api()

    with pytest.raises(EndpointRefused) as info:
        netguard.verify_guarded(Model(), {"http_client": httpx2.AsyncClient()})
    assert info.value.code == "provider"


def test_every_registrable_provider_is_guarded_refused_or_in_process():
    unguarded = KNOWN_PROVIDERS - set(GUARDED_PROVIDERS) - netguard.IN_PROCESS_PROVIDERS
    assert "ollama" in unguarded and "vllm" in unguarded and "litellm-proxy" in unguarded
    for provider in sorted(unguarded):
        with pytest.raises(EndpointRefused) as info:
            netguard.model_endpoint(model_name(provider), "https://models.example.org/v1")
        assert info.value.code == "provider"
        assert "openai-api/<service>/<model>" in str(info.value)
    for provider in netguard.IN_PROCESS_PROVIDERS:
        assert netguard.model_endpoint(model_name(provider), "") is None


def test_a_blank_base_url_means_the_providers_default_and_is_checked_like_any_other():
    assert netguard.model_endpoint("openai/gpt-4o", "") == "https://api.openai.com/v1"
    assert netguard.model_endpoint("openai-api/svc/m", " https://models.example.org/v1 ") == (
        "https://models.example.org/v1")
    with pytest.raises(EndpointRefused) as info:
        netguard.model_endpoint("openai-api/svc/m", "")
    assert info.value.code == "base_url"
    with pytest.raises(EndpointRefused, match="localhost:11434"):
        netguard.model_endpoint("ollama/llama3", "")
    # the default is resolved and checked too: here DNS answers with a link-local address
    with pytest.raises(EndpointRefused) as info:
        netguard.guarded_model_args("openai/gpt-4o", "", EndpointPolicy(),
                                    resolver=lambda host: ["169.254.169.254"])
    assert info.value.code == "link-local"
    url, args = netguard.guarded_model_args("openai/gpt-4o", "", EndpointPolicy(),
                                            resolver=lambda host: ["93.184.216.34"])
    assert url == "https://api.openai.com/v1" and isinstance(args["http_client"], httpx2.AsyncClient)
