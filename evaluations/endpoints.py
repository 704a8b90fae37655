"""Endpoint safety for model base URLs: http/https only; outside DEBUG an address that resolves to loopback,
link-local, private or otherwise non-global space is refused unless its host or a CIDR containing it is listed in
settings.MODEL_ENDPOINT_ALLOWLIST. In DEBUG, loopback is allowed (a local model server)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _allowlisted(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address, allowlist: list[str]) -> bool:
    for item in allowlist:
        entry = item.strip().lower()
        if not entry:
            continue
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if entry == host:
                return True
    return False


def _classify(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


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
    debug = settings.DEBUG if debug is None else debug
    allowlist = list(settings.MODEL_ENDPOINT_ALLOWLIST if allowlist is None else allowlist)
    resolver = resolver or resolve_host
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationError("Enter an http:// or https:// URL.", code="scheme")
    if parts.username or parts.password:
        raise ValidationError("Do not put credentials in the URL; set the API key instead.", code="userinfo")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValidationError("Enter a URL with a host name.", code="host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationError("The port in the URL is not valid.", code="port") from None
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        resolved = resolver(host)
        if not resolved:
            if allow_unresolved:
                return
            raise ValidationError(f"The host name {host} does not resolve.", code="dns") from None
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolved]
    for address in addresses:
        kind = _classify(address)
        if kind is None or _allowlisted(host, address, allowlist):
            continue
        if debug and kind == "loopback":
            continue
        raise ValidationError(
            f"The URL resolves to a {kind} address ({address}); model endpoints must be public. "
            "An operator can allow this host or network in MODEL_ENDPOINT_ALLOWLIST.",
            code=kind,
        )


def endpoint_error(url: str, **kwargs: Any) -> str | None:
    try:
        validate_base_url(url, **kwargs)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None
