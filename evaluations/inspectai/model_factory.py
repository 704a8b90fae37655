"""Inspect ``Model`` objects for registered model versions, with the credential for one call only (never
os.environ); the one place that knows Inspect's model providers and the key a keyless model is given."""

from __future__ import annotations

from typing import Any

from evaluations.credentials import Credential, credential_for
from evaluations.endpoints import endpoint_policy
from evaluations.engine import netguard
from evaluations.inspectai.mock_outputs import mockllm_model_args
from evaluations.models import ModelVersion, TaskVersion

# Model API providers that inspect-ai 0.3.x registers (inspect_ai/_util/registry, type "modelapi").
KNOWN_PROVIDERS = frozenset(
    {
        "anthropic", "azureai", "bedrock", "cloudflare", "deepseek", "fireworks", "google", "grok", "groq", "hf",
        "hf-inference-providers", "litellm-proxy", "llama-cpp-python", "meta", "mistral", "mockllm", "moonshot",
        "nnterp", "ollama", "openai", "openai-api", "openai-api-completions", "openrouter", "perplexity",
        "sagemaker", "sambanova", "sglang", "together", "transformer_lens", "vllm", "vllm-completions",
    }
)
SERVICE_PROVIDERS = frozenset({"openai-api", "openai-api-completions"})  # <provider>/<service>/<model>
# A local OpenAI-compatible server (e.g. `make local-model`) may need no key, but the client wants one: it gets
# this one, never a provider environment variable.
KEYLESS_API_KEY = "none"


def api_key_for(provider_model: str, credential: Credential | None) -> str | None:
    """The API key an Inspect model of ``provider_model`` is given: the stored one, the keyless placeholder for an
    OpenAI-compatible service, or None (the provider then fails clearly)."""
    if credential is not None:
        return credential.api_key
    if provider_model.split("/")[0] in SERVICE_PROVIDERS:
        return KEYLESS_API_KEY
    return None


def inspect_model_for(version: ModelVersion, credential: Credential | None, **model_args: Any) -> Any:
    """An inspect_ai Model for this version, with the credential for this call only (never os.environ), and the
    endpoint guard (evaluations.engine.netguard): the base URL, or the provider's default for a blank one, is
    resolved and checked against the policy in force now, and the model's HTTP client connects only to checked
    addresses and follows no redirect. Raises netguard.EndpointRefused when the endpoint is not allowed. Used by
    the connection test and by the model-graded scorer's grader.

    The API key goes in as ``api_key`` (Inspect drops it from the log's model_args). Extra headers go into the
    model's GenerateConfig.extra_headers, which Inspect WRITES to an eval log's ``model_generate_config``: fine for
    the connection test (no log), but an eval of a model with extra headers must not be given this model as is
    (strip ``config.extra_headers`` and send the headers another way, e.g. a custom provider)."""
    from inspect_ai.model import GenerateConfig, get_model

    config = GenerateConfig(**version.config, max_connections=version.max_connections)
    kwargs: dict[str, Any] = dict(model_args)
    base_url, guard = netguard.guarded_model_args(version.provider_model, version.base_url, endpoint_policy())
    kwargs.update(guard)
    if base_url:
        kwargs["base_url"] = base_url
    api_key = api_key_for(version.provider_model, credential)
    if api_key is not None:
        kwargs["api_key"] = api_key
    if credential is not None and credential.headers:
        config = config.merge(GenerateConfig(extra_headers=dict(credential.headers)))
    model = get_model(version.provider_model, config=config, memoize=False, **kwargs)
    netguard.verify_guarded(model, guard)
    return model


def grader_model_for(version: TaskVersion) -> Any:
    """The grader model of a model-graded dataset evaluation (None when it has none)."""
    grader = version.grader_model_version
    if grader is None:
        return None
    return inspect_model_for(grader, credential_for(grader), **mockllm_model_args(grader.provider_model))
