"""Strict parsers for settings read from the environment.

Every parser raises ``ImproperlyConfigured`` with a message naming the variable and what to set,
so a bad value stops start-up instead of being silently replaced by a default.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value if value is None else value.strip()

    def get_str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.raw(name)
        if value in (None, ""):
            if required:
                raise ImproperlyConfigured(f"{name} is not set: set the {name} environment variable.")
            return default
        return value

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")

    def get_int(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.raw(name)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{name}={number} is above the maximum of {maximum}.")
        return number

    def get_list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.raw(name)
        if not value:
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def get_url(self, name: str, *, schemes: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.raw(name)
        if not value:
            return default
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ImproperlyConfigured(
                f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}; got scheme {parts.scheme!r}."
            )
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise ImproperlyConfigured(f"{name} has a malformed port number.") from None
        if not parts.hostname and "host=" not in parts.query:
            raise ImproperlyConfigured(f"{name} has no host name.")
        return value

    def get_networks(self, name: str) -> list[str]:
        """Host names or CIDR networks, validated (used by MODEL_ENDPOINT_ALLOWLIST)."""
        items = self.get_list(name)
        for item in items:
            if any(ch.isdigit() for ch in item.split("/")[0].replace(".", "")) and "/" in item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ImproperlyConfigured(f"{name}: {item!r} is not a valid CIDR network.") from None
        return items
