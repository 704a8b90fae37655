"""Endpoint safety for model base URLs, the Django side of ``evaluations.engine.netguard`` (which holds the policy,
the address classification and the guarded HTTP client).

- Registration (``validate_base_url(url, allow_unresolved=True)``): http/https only, no credentials in the URL, a
  well-formed host; outside DEBUG an address (or a name) that is loopback, link-local, private or otherwise not
  global is refused unless its host or a CIDR containing it is listed in settings.MODEL_ENDPOINT_ALLOWLIST. In
  DEBUG, loopback is allowed (a local model server). A name that does not resolve yet is accepted.
- Use (in the worker, right before every connection test, run item and grader call): ``endpoint_policy()`` is
  handed to the engine, which resolves the host again, refuses it when any address is not allowed, and connects
  only to the address it checked, through a client that never follows a redirect
  (``netguard.guarded_model_args``). A blank base URL means the provider's default (``netguard.model_endpoint``),
  checked the same way; providers the portal cannot guard are refused there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from evaluations.engine import netguard

Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    return netguard.resolve_host(host)


def endpoint_policy(*, debug: bool | None = None, allowlist: list[str] | None = None) -> netguard.EndpointPolicy:
    """The policy in force (settings.DEBUG, settings.MODEL_ENDPOINT_ALLOWLIST), as plain data for the engine."""
    return netguard.EndpointPolicy(
        debug=bool(settings.DEBUG if debug is None else debug),
        allowlist=tuple(settings.MODEL_ENDPOINT_ALLOWLIST if allowlist is None else allowlist),
    )


def validate_base_url(
    url: str,
    *,
    debug: bool | None = None,
    allowlist: list[str] | None = None,
    resolver: Resolver | None = None,
    allow_unresolved: bool = False,
) -> None:
    """Raise ValidationError with a clear message when ``url`` may not be used as a model endpoint.

    ``allow_unresolved``: at registration, a host name that does not resolve from the web process is accepted
    (it is checked again, resolved, in the worker right before every use)."""
    if not url:
        return
    try:
        netguard.endpoint_check(url, endpoint_policy(debug=debug, allowlist=allowlist), resolver=resolver,
                                allow_unresolved=allow_unresolved)
    except netguard.EndpointRefused as exc:
        raise ValidationError(str(exc), code=exc.code) from None


def endpoint_error(url: str, **kwargs: Any) -> str | None:
    try:
        validate_base_url(url, **kwargs)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None
