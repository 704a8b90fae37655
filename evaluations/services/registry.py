"""Writes of the model registry: registered models, their versions, write-only credentials and connection tests.

Every change to what is called (provider/model, base URL, generation settings, max connections, prices) makes a
new ModelVersion; versions are never edited. Every write is audited, never with a secret in before/after."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.access import CREATE, DELETE, EDIT, require
from evaluations import crypto
from evaluations.credentials import credential_for, scrub
from evaluations.endpoints import validate_base_url
from evaluations.engine import netguard
from evaluations.inspectai.mock_outputs import mockllm_model_args
from evaluations.inspectai.model_factory import KNOWN_PROVIDERS, SERVICE_PROVIDERS, inspect_model_for
from evaluations.models import ConnectionTest, Exercise, ModelCredential, ModelVersion, RegisteredModel
from evaluations.services.exercises import exercises_chosen_validate
from portal.audit import audit_record
from portal.limits import LINE_MAX, NAME_MAX, TEXT_MAX, text_check
from portal.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

_MODEL_STRING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]*(/[A-Za-z0-9._:@+\-]+)+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Headers the portal's HTTP client sets itself or that only mean something between two hops: a model's extra
# headers may not name them (a Host header would redirect the request; the others break or smuggle it).
FORBIDDEN_HEADERS = frozenset({"host", "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
                               "content-length"})
MAX_EXTRA_HEADERS = 20
MAX_API_KEY = 4000

# Generation settings a model may carry (GenerateConfig fields). Excluded: extra_headers (secrets belong in the
# credential), max_connections (its own field), and run-level machinery.
CONFIG_EXCLUDED = frozenset({"extra_headers", "extra_body", "max_connections", "cache", "batch", "fallback_models",
                             "response_schema", "adaptive_connections", "internal_tools", "modalities"})
VERSIONED_FIELDS = ("provider_model", "base_url", "config", "max_connections",
                    "price_input_per_million", "price_output_per_million")


def provider_model_validate(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError("Enter the Inspect model, for example openai-api/local/gemma.")
    if not _MODEL_STRING.match(value):
        raise ValidationError("Enter the Inspect model as provider/model, with no spaces, e.g. anthropic/claude-x.")
    provider, _, rest = value.partition("/")
    if provider not in KNOWN_PROVIDERS:
        raise ValidationError(
            f"Inspect has no model provider called {provider!r}. Known providers: {', '.join(sorted(KNOWN_PROVIDERS))}."
        )
    if provider in SERVICE_PROVIDERS and len(rest.split("/")) < 2:
        raise ValidationError(f"Enter {provider} models as {provider}/<service>/<model>, e.g. {provider}/local/gemma.")
    if provider == "mockllm" and rest != "model":
        raise ValidationError("The mock model is called mockllm/model.")
    return value


# Sensible ranges of the numeric generation settings (a model with max_tokens of 10**30 is a typo, not a setting).
GENERATION_BOUNDS: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "top_k": (1, 100_000),
    "max_tokens": (1, 10_000_000),
    "timeout": (1, 86_400),
    "attempt_timeout": (1, 86_400),
    "max_retries": (0, 100),
    "frequency_penalty": (-2, 2),
    "presence_penalty": (-2, 2),
    "num_choices": (1, 100),
    "best_of": (1, 100),
    "top_logprobs": (0, 100),
    "seed": (-(2**63), 2**63 - 1),
    "reasoning_tokens": (1, 10_000_000),
    "max_tool_output": (1, 100 * 1024 * 1024),
}


def generation_config_validate(config: Any) -> dict[str, Any]:
    """Validate against inspect_ai.model.GenerateConfig; return the given settings in JSON form."""
    from inspect_ai.model import GenerateConfig
    from pydantic import ValidationError as PydanticValidationError

    if config in (None, ""):
        return {}
    if not isinstance(config, dict):
        raise ValidationError("Generation settings must be an object, e.g. {\"temperature\": 0}.")
    unknown = sorted(k for k in config if k not in GenerateConfig.model_fields or k in CONFIG_EXCLUDED)
    if unknown:
        raise ValidationError(f"Unknown or disallowed generation settings: {', '.join(unknown)}.")
    cleaned = {k: v for k, v in config.items() if v is not None and v != ""}
    try:
        validated = GenerateConfig.model_validate(cleaned)
    except PydanticValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValidationError(f"Generation settings are not valid: {problems}.") from None
    for name, (low, high) in GENERATION_BOUNDS.items():
        value = getattr(validated, name, None)
        if name in cleaned and isinstance(value, int | float) and not low <= value <= high:
            raise ValidationError(f"Generation settings are not valid: {name} must be between {low:,} and {high:,}.")
    stops = validated.stop_seqs or []
    if "stop_seqs" in cleaned and (not all(isinstance(s, str) and s for s in stops) or len(stops) > 64
                                   or any(len(s) > LINE_MAX for s in stops)):
        raise ValidationError("Generation settings are not valid: stop_seqs must be a list of at most 64 non-empty "
                              f"strings of at most {LINE_MAX:,} characters.")
    if len(json.dumps(cleaned, default=str)) > TEXT_MAX:
        raise ValidationError(f"Generation settings are too long: at most {TEXT_MAX:,} characters of JSON.")
    dumped = validated.model_dump(mode="json")
    return {k: dumped[k] for k in cleaned}


def extra_headers_parse(value: Any) -> dict[str, str]:
    """A dict, or text with one ``Name: value`` per line. Host, hop-by-hop and proxy headers are refused."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        headers: dict[str, str] = {}
        for number, line in enumerate(value.splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, val = line.partition(":")
            if not sep:
                raise ValidationError(f"Extra headers, line {number}: write each header as Name: value.")
            headers[name.strip()] = val.strip()
        value = headers
    if not isinstance(value, dict):
        raise ValidationError("Extra headers must be an object of header names to values.")
    if len(value) > MAX_EXTRA_HEADERS:
        raise ValidationError(f"Extra headers: at most {MAX_EXTRA_HEADERS} headers.")
    for name, val in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name) or len(name) > 100:
            raise ValidationError("Extra headers: a header name may only contain letters, digits and - _ .")
        lowered = name.lower()
        if lowered in FORBIDDEN_HEADERS or lowered.startswith("proxy-"):
            raise ValidationError(f"Extra headers: {name} is set by the portal's HTTP client and cannot be given "
                                  "(nor can hop-by-hop or Proxy- headers).")
        if not isinstance(val, str) or any(ch in val for ch in "\r\n\x00") or len(val) > LINE_MAX:
            raise ValidationError(f"Extra headers: the value of {name} must be one line of text of at most "
                                  f"{LINE_MAX:,} characters.")
    return dict(value)


def _credential_validate(*, api_key: Any, extra_headers: Any) -> tuple[str, dict[str, str]]:
    """The API key and extra headers of a credential, checked before anything is written."""
    errors: dict[str, list[str]] = {}
    key = (api_key or "").strip() if isinstance(api_key, str) else ""
    if not key:
        errors["api_key"] = ["Enter the API key."]
    elif len(key) > MAX_API_KEY:
        errors["api_key"] = [f"The API key is too long ({MAX_API_KEY:,} characters at most)."]
    headers: dict[str, str] = {}
    try:
        headers = extra_headers_parse(extra_headers)
    except ValidationError as exc:
        errors["extra_headers"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return key, headers


def _base_url_clean(value: Any) -> str:
    url = (value or "").strip()
    if len(url) > 500:
        raise ValidationError("Enter a base URL of 500 characters or fewer.")
    try:
        validate_base_url(url, allow_unresolved=True)
    except ValueError:  # urlsplit: a malformed IPv6 address ("http://[::1") or port
        raise ValidationError("Enter a valid URL (the host or port is malformed).") from None
    return str(url)


def _version_values(**values: Any) -> dict[str, Any]:
    def price(v: Any) -> Decimal | None:
        if v in (None, ""):
            return None
        try:
            d = Decimal(str(v))
        except Exception:
            raise ValidationError("Enter prices as numbers, e.g. 3.00.") from None
        if d < 0 or not d.is_finite():
            raise ValidationError("Prices must not be negative.")
        return d

    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for name, fn in [
        ("provider_model", provider_model_validate),
        ("base_url", _base_url_clean),
        ("config", generation_config_validate),
        ("price_input_per_million", price),
        ("price_output_per_million", price),
    ]:
        try:
            out[name] = fn(values.get(name))
        except ValidationError as exc:
            errors[name] = exc.messages
    mc = values.get("max_connections") or 4
    try:
        mc = int(mc)
        if not 1 <= mc <= 1000:
            raise ValueError
        out["max_connections"] = mc
    except (TypeError, ValueError):
        errors["max_connections"] = ["Enter a whole number of connections between 1 and 1000."]
    if errors:
        raise ValidationError(errors)
    return out


def version_snapshot(version: ModelVersion | None) -> dict[str, Any]:
    if version is None:
        return {}
    return {
        "number": version.number,
        "provider_model": version.provider_model,
        "base_url": version.base_url,
        "config": version.config,
        "max_connections": version.max_connections,
        "price_input_per_million": str(version.price_input_per_million)
        if version.price_input_per_million is not None else None,
        "price_output_per_million": str(version.price_output_per_million)
        if version.price_output_per_million is not None else None,
    }


def model_snapshot(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "owner": model.owner_id,
        "exercises": sorted(model.exercises.values_list("pk", flat=True)),
        "notes": model.notes,
        "archived": model.archived_at is not None,
        "version": version_snapshot(model.current_version),
    }


def _name_check(value: Any, errors: dict[str, list[str]]) -> str:
    name = (value or "").strip() if isinstance(value, str) else ""
    if not name or len(name) > NAME_MAX:
        errors["name"] = [f"Enter a name of 1 to {NAME_MAX} characters."]
    return name


def _notes_check(value: Any, errors: dict[str, list[str]]) -> str:
    try:
        return text_check(value, field="notes", label="Notes")
    except ValidationError as exc:
        errors.update(exc.message_dict)
        return ""


@transaction.atomic
def model_create(
    *,
    user: Any,
    name: str,
    exercises: list[Any],
    provider_model: str,
    base_url: str = "",
    config: dict[str, Any] | None = None,
    max_connections: int | None = 4,
    price_input_per_million: Any = None,
    price_output_per_million: Any = None,
    notes: str = "",
    api_key: str | None = None,
    extra_headers: Any = None,
    request: HttpRequest | None = None,
) -> RegisteredModel:
    """Register a model, its first version and (optionally) its credential: every part is checked before anything
    is written, in one transaction."""
    require(user, CREATE, RegisteredModel)
    errors: dict[str, list[str]] = {}
    name = _name_check(name, errors)
    notes = _notes_check(notes, errors)
    chosen: list[Exercise] = []
    try:
        chosen = exercises_chosen_validate(user=user, exercises=exercises)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    values: dict[str, Any] = {}
    try:
        values = _version_values(
            provider_model=provider_model, base_url=base_url, config=config, max_connections=max_connections,
            price_input_per_million=price_input_per_million, price_output_per_million=price_output_per_million,
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    credential: tuple[str, dict[str, str]] | None = None
    if api_key or extra_headers:
        try:
            credential = _credential_validate(api_key=api_key, extra_headers=extra_headers)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    model = RegisteredModel.objects.create(name=name, owner_id=user.organisation_id, notes=notes, created_by=user)
    model.exercises.set(chosen)
    ModelVersion.objects.create(registered_model=model, number=1, created_by=user, **values)
    audit_record(actor=user, action="model.create", obj=model, before=None, after=model_snapshot(model),
                 request=request, exercise_id=chosen[0].pk)
    if credential is not None:
        _credential_store(user=user, registered_model=model, api_key=credential[0], headers=credential[1],
                          request=request)
    return model


@transaction.atomic
def model_update(
    *, user: Any, registered_model: RegisteredModel, request: HttpRequest | None = None, **changes: Any
) -> tuple[RegisteredModel, ModelVersion | None]:
    """Change a model. Name, notes and exercises change in place; anything in VERSIONED_FIELDS makes a new
    version; ``api_key`` (with ``extra_headers``) replaces the credential. Everything is checked before anything is
    written, in one transaction: a refused part saves no other. Returns the model and the new version (None when
    no versioned field changed)."""
    model = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
    require(user, EDIT, model)
    before = model_snapshot(model)
    current = model.current_version
    errors: dict[str, list[str]] = {}
    if "name" in changes:
        model.name = _name_check(changes["name"], errors)
    if "notes" in changes:
        model.notes = _notes_check(changes["notes"], errors)
    chosen: list[Exercise] | None = None
    if "exercises" in changes and changes["exercises"] is not None:
        try:
            chosen = exercises_chosen_validate(user=user, exercises=changes["exercises"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    merged = {f: getattr(current, f) if current else None for f in VERSIONED_FIELDS}
    merged.update({k: v for k, v in changes.items() if k in VERSIONED_FIELDS})
    values: dict[str, Any] = {}
    try:
        values = _version_values(**merged)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    credential: tuple[str, dict[str, str]] | None = None
    if changes.get("api_key") or changes.get("extra_headers"):
        require(user, "set_credential", model)
        if not changes.get("api_key"):
            errors["extra_headers"] = ["Extra headers are stored with the API key: send the API key with them."]
        else:
            try:
                credential = _credential_validate(api_key=changes["api_key"], extra_headers=changes.get("extra_headers"))
            except ValidationError as exc:
                errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    model.save()
    if chosen is not None:
        model.exercises.set(chosen)
    new_version = None
    if current is None or any(values[f] != getattr(current, f) for f in VERSIONED_FIELDS):
        number = (current.number if current else 0) + 1
        new_version = ModelVersion.objects.create(registered_model=model, number=number, created_by=user, **values)
    after = model_snapshot(model)
    if after != before:
        audit_record(actor=user, action="model.update", obj=model, before=before, after=after, request=request,
                     exercise_id=after["exercises"][0] if after["exercises"] else None)
    if credential is not None:
        _credential_store(user=user, registered_model=model, api_key=credential[0], headers=credential[1],
                          request=request)
    return model, new_version


@transaction.atomic
def model_archive(*, user: Any, registered_model: RegisteredModel, request: HttpRequest | None = None) -> None:
    model = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
    require(user, DELETE, model)
    before = model_snapshot(model)
    model.archived_at = timezone.now()
    model.save(update_fields=["archived_at"])
    audit_record(actor=user, action="model.archive", obj=model, before=before, after=model_snapshot(model),
                 request=request, exercise_id=before["exercises"][0] if before["exercises"] else None)


def _credential_audit(cred: ModelCredential | None) -> dict[str, Any] | None:
    if cred is None:
        return {"credential": None}
    return {"credential": {"set_by": cred.set_by.email, "set_at": cred.set_at.isoformat(),
                           "header_names": cred.header_names}}


@transaction.atomic
def credential_set(
    *, user: Any, registered_model: RegisteredModel, api_key: str, extra_headers: Any = None,
    request: HttpRequest | None = None,
) -> ModelCredential:
    """Encrypt and store the API key (replacing any earlier one). The audit trail records who and when only."""
    require(user, "set_credential", registered_model)
    key, headers = _credential_validate(api_key=api_key, extra_headers=extra_headers)
    return _credential_store(user=user, registered_model=registered_model, api_key=key, headers=headers,
                             request=request)


def _credential_store(*, user: Any, registered_model: RegisteredModel, api_key: str, headers: dict[str, str],
                      request: HttpRequest | None) -> ModelCredential:
    """Write an already checked credential, inside the caller's transaction."""
    existing = ModelCredential.objects.select_for_update().filter(registered_model=registered_model).first()
    before = _credential_audit(existing)
    token = crypto.encrypt(json.dumps({"api_key": api_key, "headers": headers}).encode("utf-8"))
    cred, _ = ModelCredential.objects.update_or_create(
        registered_model=registered_model,
        defaults={"ciphertext": token, "header_names": sorted(headers), "set_by": user, "set_at": timezone.now()},
    )
    audit_record(actor=user, action="model.credential_set", obj=registered_model, before=before,
                 after=_credential_audit(cred), request=request,
                 exercise_id=registered_model.exercises.values_list("pk", flat=True).first())
    return cred


@transaction.atomic
def credential_clear(*, user: Any, registered_model: RegisteredModel, request: HttpRequest | None = None) -> None:
    require(user, "set_credential", registered_model)
    existing = ModelCredential.objects.select_for_update().filter(registered_model=registered_model).first()
    if existing is None:
        return
    before = _credential_audit(existing)
    existing.delete()
    audit_record(actor=user, action="model.credential_clear", obj=registered_model, before=before,
                 after={"credential": None}, request=request,
                 exercise_id=registered_model.exercises.values_list("pk", flat=True).first())


def credentials_rotate() -> int:
    """Re-encrypt every stored credential under the newest key in FIELD_ENCRYPTION_KEYS. All or nothing."""
    count = 0
    with transaction.atomic():
        for cred in ModelCredential.objects.select_for_update().order_by("pk"):
            cred.ciphertext = crypto.rotate(bytes(cred.ciphertext))
            cred.save(update_fields=["ciphertext"])
            count += 1
        audit_record(actor=None, actor_email="manage.py rotate_encryption_keys", action="credentials.rotate",
                     before=None, after={"credentials": count})
    return count


# --- Test connection -------------------------------------------------------------------------------------

CONNECTION_TEST_PROMPT = "Reply with the single word OK."
CONNECTION_TEST_TASK = "evaluations.tasks.model_connection_test"  # evaluations/tasks/registry.py's name=
CONNECTION_TEST_TIMEOUT = 30
CONNECTION_TEST_TIME_LIMIT = 180  # the task's hard time limit (evaluations/tasks/registry.py): no test runs longer
CONNECTION_TEST_WORKER_LOST = "The worker running this test stopped before it finished. Test the connection again."
CONNECTION_TEST_NEVER_TAKEN = "No worker took this test in time. Test the connection again."


@transaction.atomic
def connection_test_request(
    *, user: Any, registered_model: RegisteredModel, request: HttpRequest | None = None
) -> ConnectionTest:
    require(user, "test_connection", registered_model)
    version = registered_model.current_version
    if version is None:
        raise ValidationError("The model has no version to test.")
    row = ConnectionTest.objects.create(registered_model=registered_model, model_version=version, requested_by=user)
    audit_record(actor=user, action="model.test_connection", obj=registered_model, before=None,
                 after={"connection_test": row.pk, "version": version.number}, request=request,
                 exercise_id=registered_model.exercises.values_list("pk", flat=True).first())
    enqueue_on_commit(CONNECTION_TEST_TASK, row.pk)
    return row


def connection_test_execute(*, test_id: int) -> None:
    """Worker side: send one short generation, store latency or a scrubbed error. Idempotent: only a pending
    row is claimed."""
    if not ConnectionTest.objects.filter(pk=test_id, status=ConnectionTest.Status.PENDING).update(
        status=ConnectionTest.Status.RUNNING, started_at=timezone.now()
    ):
        return
    row = ConnectionTest.objects.select_related("model_version").get(pk=test_id)
    version = row.model_version
    secrets: list[str] = []
    status, latency_ms, excerpt, error = ConnectionTest.Status.FAILED, None, "", ""
    try:
        credential = credential_for(version)
        secrets = credential.secrets() if credential else []
        model = inspect_model_for(version, credential, **mockllm_model_args(version.provider_model))
        from inspect_ai.model import GenerateConfig

        config = GenerateConfig(max_tokens=min(int(version.config.get("max_tokens") or 16), 16),
                                timeout=CONNECTION_TEST_TIMEOUT, max_retries=0)
        started = time.monotonic()
        output = asyncio.run(asyncio.wait_for(model.generate(CONNECTION_TEST_PROMPT, config=config),
                                              timeout=CONNECTION_TEST_TIMEOUT + 5))
        latency_ms = int((time.monotonic() - started) * 1000)
        if getattr(output, "error", None):
            error = f"The model answered with an error: {output.error}"
        else:
            status = ConnectionTest.Status.SUCCEEDED
            excerpt = (output.completion or "")[:200]
    except TimeoutError:
        error = f"No answer within {CONNECTION_TEST_TIMEOUT} seconds."
    except netguard.EndpointRefused as exc:
        error = f"The base URL is not allowed: {exc}"
    except crypto.CredentialDecryptionError as exc:
        error = str(exc)
    except Exception as exc:  # every failure becomes a clear, scrubbed message on the row
        error = f"{type(exc).__name__}: {exc}"
    error = netguard.error_summary(error, lambda text: scrub(text, secrets))
    excerpt = scrub(excerpt, secrets)
    ConnectionTest.objects.filter(pk=test_id, status=ConnectionTest.Status.RUNNING).update(
        status=status, latency_ms=latency_ms, output_excerpt=excerpt, error=error, finished_at=timezone.now()
    )
    logger.info("connection test %s finished: %s", test_id, status)


def connection_tests_reap(*, pending_grace: timedelta) -> int:
    """Called by the reconciler: a test whose worker died stays "running" no longer than the task's hard time
    limit (and a minute), one whose message was lost stays "pending" no longer than ``pending_grace``; both
    become failed with a plain reason (conditional UPDATEs: a test that finishes meanwhile keeps its result)."""
    now = timezone.now()
    dead = ConnectionTest.objects.filter(
        status=ConnectionTest.Status.RUNNING, started_at__lt=now - timedelta(seconds=CONNECTION_TEST_TIME_LIMIT + 60),
    ).update(status=ConnectionTest.Status.FAILED, error=CONNECTION_TEST_WORKER_LOST, finished_at=now)
    lost = ConnectionTest.objects.filter(
        status=ConnectionTest.Status.PENDING, requested_at__lt=now - pending_grace,
    ).update(status=ConnectionTest.Status.FAILED, error=CONNECTION_TEST_NEVER_TAKEN, finished_at=now)
    if dead or lost:
        logger.warning("connection tests failed by the reconciler: %s whose worker stopped, %s never taken",
                       dead, lost)
    return dead + lost
