"""Reads of the model registry, always starting from the access layer."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from accounts.access import get_visible_or_404, visible_to
from evaluations.models import ConnectionTest, ModelCredential, ModelVersion, RegisteredModel

MODEL_SORTS = {"name": "name", "-name": "-name", "created": "created_at", "-created": "-created_at",
               "owner": "owner__name", "-owner": "-owner__name"}


def model_list(*, user: Any, q: str = "", sort: str = "name", exercise: int | None = None,
               include_archived: bool = False) -> QuerySet[RegisteredModel]:
    qs = visible_to(user, RegisteredModel.objects.all())
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(versions__provider_model__icontains=q) | Q(notes__icontains=q))
    if exercise:
        qs = qs.filter(exercises=exercise)
    qs = qs.select_related("owner", "credential", "credential__set_by").annotate(
        latest_number=Max("versions__number"), version_count=Count("versions", distinct=True)
    ).prefetch_related(
        "exercises",
        Prefetch("versions", queryset=ModelVersion.objects.select_related("created_by").order_by("-number"),
                 to_attr="ordered_versions"),
    )
    return qs.order_by(MODEL_SORTS.get(sort, "name"), "pk").distinct()


def model_get(*, user: Any, pk: Any) -> RegisteredModel:
    return get_visible_or_404(user, RegisteredModel.objects.select_related("owner", "created_by"), pk=pk)


def model_versions(*, registered_model: RegisteredModel) -> list[ModelVersion]:
    return list(registered_model.versions.select_related("created_by").order_by("-number"))


def credential_status(*, registered_model: RegisteredModel) -> dict[str, Any] | None:
    """Who set the credential and when: the only thing about it any page or response shows."""
    cred = ModelCredential.objects.select_related("set_by").filter(registered_model=registered_model).only(
        "set_by__email", "set_at", "header_names", "registered_model_id").first()
    if cred is None:
        return None
    return {"set_by": cred.set_by.email, "set_at": cred.set_at, "header_names": list(cred.header_names)}


def _display(value: Any) -> str:
    if value in (None, "", {}):
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def version_diff(*, older: ModelVersion | None, newer: ModelVersion) -> list[dict[str, str]]:
    """Changed settings between two versions (each generation setting separately)."""
    labels = {"provider_model": "Inspect model", "base_url": "Base URL", "max_connections": "Max connections",
              "price_input_per_million": "Price per million input tokens",
              "price_output_per_million": "Price per million output tokens"}
    rows = []
    for field_name, label in labels.items():
        old = getattr(older, field_name) if older else None
        new = getattr(newer, field_name)
        if old != new:
            rows.append({"field": label, "old": _display(old), "new": _display(new)})
    old_cfg = older.config if older else {}
    for key in sorted(set(old_cfg) | set(newer.config)):
        if old_cfg.get(key) != newer.config.get(key):
            rows.append({"field": f"Setting {key}", "old": _display(old_cfg.get(key)),
                         "new": _display(newer.config.get(key))})
    return rows


def version_history(*, registered_model: RegisteredModel) -> list[dict[str, Any]]:
    versions = sorted(model_versions(registered_model=registered_model), key=lambda v: v.number)
    history = []
    previous = None
    for v in versions:
        history.append({"version": v, "changes": version_diff(older=previous, newer=v) if previous else []})
        previous = v
    return list(reversed(history))


def connection_test_latest(*, registered_model: RegisteredModel) -> ConnectionTest | None:
    return registered_model.connection_tests.select_related("model_version", "requested_by").first()


def connection_test_get(*, user: Any, registered_model: RegisteredModel, pk: Any) -> ConnectionTest:
    return get_visible_or_404(user, ConnectionTest.objects.filter(registered_model=registered_model)
                              .select_related("model_version", "requested_by"), pk=pk)


def grader_choices(*, user: Any) -> list[ModelVersion]:
    """Current versions of visible, unarchived models (for a model-graded scorer)."""
    models = model_list(user=user)
    return [m.ordered_versions[0] for m in models if m.ordered_versions]  # type: ignore[attr-defined]


def model_version_choices(*, user: Any, exercise_id: int | None) -> QuerySet[ModelVersion]:
    """Versions a run in the exercise may use (the run form): of models registered in it and not archived, newest
    version of each model first."""
    if exercise_id is None:
        return ModelVersion.objects.none()
    return visible_to(user, ModelVersion.objects.filter(
        registered_model__exercises=exercise_id, registered_model__archived_at__isnull=True,
    )).select_related("registered_model").order_by("registered_model__name", "registered_model_id", "-number")


# A connection test's stored error is technical (an exception, a provider's message); people see a plain reason and
# what to do, and only portal admins the detail (issue 12). First match wins.
_CONNECTION_REASONS: list[tuple[tuple[str, ...], str]] = [
    (("No answer within",), "The model did not answer in time. Check that its server is running, then test again."),
    (("base URL is not allowed",), "The portal may not connect to this base URL. Use the model's public address."),
    (("decrypt", "Decryption"), "The stored API key could not be read. Set the API key again on this page."),
    (("_API_KEY", "api_key", "API key", "environment variable"),
     "The model's provider needs an API key and none is set. Set the API key on this page."),
    (("401", "403", "Unauthorized", "Authentication", "PermissionDenied", "Forbidden"),
     "The model's provider refused the API key. Check the API key and set it again."),
    (("404", "NotFound", "model_not_found", "does not exist"),
     "The provider does not know this model. Check the Inspect model name."),
    (("429", "RateLimit", "rate limit", "quota"), "The provider is limiting requests. Try again in a few minutes."),
    (("Connect", "connection", "refused", "Name or service not known", "getaddrinfo", "unreachable"),
     "The portal could not reach the model's server. Check the base URL and that the server is running."),
    (("answered with an error",), "The model answered with an error. Check its settings, then test again."),
]


def connection_test_reason(*, error: str) -> str:
    """A plain reason, with what to do, for a failed connection test's stored error."""
    for needles, reason in _CONNECTION_REASONS:
        if any(needle.lower() in (error or "").lower() for needle in needles):
            return reason
    return "The connection test failed. Check the model's settings and test again; a portal admin can see why."
