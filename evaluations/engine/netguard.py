"""Endpoint safety at the moment of use: the address policy for model base URLs, and an HTTP client that only
ever connects to an address it has just checked. Free of Django (the engine uses it; so do the registry's
connection test and the model-graded scorer's grader, through evaluations.endpoints).

Policy (``EndpointPolicy``, plain data): http/https only, no credentials in the URL. When ``check_addresses`` is
on (the portal always turns it on; only engine tests leave it off), a host whose addresses are loopback,
link-local, private, unspecified, multicast or otherwise not global is refused unless the host name or a network
containing the address is in ``allowlist``; ``debug`` additionally allows loopback (a local model server).
IPv6 forms that embed an IPv4 address (mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, 6to4
``2002::/16``, NAT64 ``64:ff9b::/96``) are judged by the IPv4 address they carry. Host names are compared
without a trailing dot (``localhost.`` is ``localhost``); ``localhost``/``*.localhost``, cloud metadata names and
names under private-use suffixes (``.internal``, ``.local``, ``.lan``, ``.home.arpa`` ...) are refused without
asking DNS. A host that resolves to several addresses is refused if any one of them is refused.

Enforcement (``guarded_client``): an ``httpx2.AsyncClient`` (the HTTP library of the ``openai`` package that
Inspect's OpenAI-compatible providers use) whose transport

- sends requests only to the origin (scheme, host, port) of the model's base URL;
- resolves the host itself (``resolve_host``, looked up at call time) right before opening each connection,
  checks every address against the policy and connects to a checked address (no second lookup; TLS SNI and the
  Host header keep the name);
- never follows a redirect: a 3xx answer is replaced by a short error response with no ``Location`` and no
  body of the endpoint, so neither the request (with its key and extra headers) nor its answer crosses to
  another address;
- answers a refused connection with a synthetic 403 (an SDK would retry a connection error forever).

``model_endpoint`` decides what a provider's blank base URL means (its built-in default, or "a base URL is
required"), and ``guarded_model_args`` gives the ``http_client`` model argument Inspect's OpenAI-based providers
accept (``verify_guarded`` checks that the built model really holds it). Providers whose client cannot be given
the guarded client are refused; in-process providers (``mockllm``...) need no endpoint.

``error_summary`` cuts error text from a model endpoint to one short line, scrubbed by the caller's scrubber.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore2
import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]

__all__ = [
    "Endpoint", "EndpointPolicy", "EndpointRefused", "GuardedNetworkBackend", "GuardedTransport",
    "address_kind", "embedded_ipv4", "endpoint_check", "endpoint_parse", "error_summary", "guarded_client",
    "guarded_model_args", "model_endpoint", "name_kind", "provider_of", "resolve_host", "verify_guarded",
]


# ---------------------------------------------------------------------------------------------------------------
# policy


@dataclass(frozen=True)
class EndpointPolicy:
    debug: bool = False
    allowlist: tuple[str, ...] = ()
    check_addresses: bool = True


class EndpointRefused(ValueError):
    """A URL or an address the policy does not allow; ``code`` names the reason (scheme, host, loopback...)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Endpoint:
    url: str
    scheme: str
    host: str  # lower case, no brackets, no zone id, no trailing dot
    port: int
    literal: IPAddress | None = None
    addresses: tuple[IPAddress, ...] = field(default=(), compare=False)  # filled in by endpoint_check

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def _normalise_host(host: str) -> tuple[str, IPAddress | None]:
    """(host, literal address or None). Raises EndpointRefused for a malformed literal."""
    host = unquote(host).strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:  # only an IPv6 literal has a colon here
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise EndpointRefused(f"{host!r} is not a valid IPv6 address.", code="host") from None
        return str(address).split("%")[0], address
    host = host[:-1] if host.endswith(".") else host
    if not host or host.endswith(".") or ".." in host:
        raise EndpointRefused("Enter a URL with a valid host name.", code="host")
    try:
        return host, ipaddress.IPv4Address(host)
    except ValueError:
        return host, None


def endpoint_parse(url: str) -> Endpoint:
    """Scheme, host and port of a base URL, or EndpointRefused (never another exception)."""
    try:
        parts = urlsplit(url)
        port = parts.port
        raw_host = parts.hostname
    except ValueError as exc:
        message = str(exc)
        if "port" in message.lower():
            raise EndpointRefused("The port in the URL is not valid.", code="port") from None
        raise EndpointRefused(f"The URL is not valid: {message}.", code="host") from None
    if parts.scheme not in ("http", "https"):
        raise EndpointRefused("Enter an http:// or https:// URL.", code="scheme")
    if parts.username or parts.password:
        raise EndpointRefused("Do not put credentials in the URL; set the API key instead.", code="userinfo")
    if not raw_host:
        raise EndpointRefused("Enter a URL with a host name.", code="host")
    if any(ch in raw_host for ch in "\x00\r\n\t /\\@"):
        raise EndpointRefused("Enter a URL with a valid host name.", code="host")
    host, literal = _normalise_host(raw_host)
    return Endpoint(url=url, scheme=parts.scheme, host=host, port=port or (443 if parts.scheme == "https" else 80),
                    literal=literal)


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, IPv4-compatible, 6to4, NAT64), or None."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    plain = ipaddress.IPv6Address(int(address))  # drop a zone id
    if plain in _NAT64 or (plain in _IPV4_COMPATIBLE and int(plain) > 1):
        return ipaddress.IPv4Address(int(plain) & 0xFFFFFFFF)
    return None


def address_kind(address: IPAddress) -> str | None:
    """None for a public address, else what it is: loopback, link-local, unspecified, multicast, private,
    reserved. An IPv6 address that embeds an IPv4 one is judged by the IPv4 address."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        return address_kind(embedded)
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


# Names refused without asking DNS (they name this machine, a cloud's metadata service or a private network).
_LOCAL_NAMES = {"localhost": "loopback", "localhost.localdomain": "loopback", "ip6-localhost": "loopback",
                "ip6-loopback": "loopback", "metadata.google.internal": "link-local", "metadata": "link-local",
                "instance-data": "link-local", "metadata.azure.internal": "link-local"}
_PRIVATE_SUFFIXES = (".internal", ".local", ".localdomain", ".lan", ".home", ".home.arpa", ".intranet",
                     ".corp", ".private")


def name_kind(host: str) -> str | None:
    """What a host name (normalised, no trailing dot) is if it names a local or private place, else None."""
    if host in _LOCAL_NAMES:
        return _LOCAL_NAMES[host]
    if host.endswith(".localhost"):
        return "loopback"
    if host.endswith(_PRIVATE_SUFFIXES) or "." not in host:
        return "private"  # a single-label name resolves through the local search domain
    return None


def resolve_host(host: str) -> list[str]:
    """The DNS lookup (every address of ``host``); [] when it does not resolve. Looked up by name at call time,
    so a test may replace it (or ``socket.getaddrinfo``)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _allowlisted(host: str, address: IPAddress | None, allowlist: Iterable[str]) -> bool:
    candidates = [] if address is None else [address, *filter(None, [embedded_ipv4(address)])]
    for item in allowlist:
        entry = item.strip().lower()
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if entry.removesuffix(".") == host:
                return True
            continue
        if any(a.version == network.version and type(a)(int(a)) in network for a in candidates):  # no zone id
            return True
    return False


def _refuse_kind(host: str, address: IPAddress | None, kind: str | None, policy: EndpointPolicy) -> None:
    if kind is None or _allowlisted(host, address, policy.allowlist) or (policy.debug and kind == "loopback"):
        return
    if address is None:
        what = f"The host name {host} is a {kind} name"
    else:
        embedded = embedded_ipv4(address)
        carried = f", which carries {embedded}" if embedded is not None else ""
        what = f"The URL resolves to a {kind} address ({address}{carried})"
    raise EndpointRefused(
        f"{what}; model endpoints must be public. "
        "An operator can allow this host or network in MODEL_ENDPOINT_ALLOWLIST.",
        code=kind,
    )


def addresses_check(host: str, addresses: Iterable[IPAddress], policy: EndpointPolicy) -> None:
    for address in addresses:
        _refuse_kind(host, address, address_kind(address), policy)


def _resolve(host: str, resolver: Resolver | None) -> list[IPAddress]:
    found = (resolver or resolve_host)(host)  # resolve_host looked up now: a patched resolver is used
    out: list[IPAddress] = []
    for text in found:
        try:
            out.append(ipaddress.ip_address(str(text).split("%")[0]))
        except ValueError:
            continue
    return out


def host_check(host: str, policy: EndpointPolicy, *, resolver: Resolver | None = None,
               allow_unresolved: bool = False) -> tuple[IPAddress, ...]:
    """Resolve ``host`` (unless it is a literal) and check every address; the checked addresses."""
    host, literal = _normalise_host(host)
    if literal is not None:
        addresses_check(host, [literal], policy)
        return (literal,)
    _refuse_kind(host, None, name_kind(host), policy)
    addresses = _resolve(host, resolver)
    if not addresses:
        if allow_unresolved:
            return ()
        raise EndpointRefused(f"The host name {host} does not resolve.", code="dns")
    addresses_check(host, addresses, policy)
    return tuple(addresses)


def endpoint_check(url: str, policy: EndpointPolicy, *, resolver: Resolver | None = None,
                   allow_unresolved: bool = False) -> Endpoint:
    """The parsed endpoint with its checked addresses, or EndpointRefused. ``allow_unresolved`` (registration):
    a name that does not resolve yet is accepted; the worker checks it again before every use."""
    endpoint = endpoint_parse(url)
    if not policy.check_addresses:
        return endpoint
    addresses = host_check(endpoint.host, policy, resolver=resolver, allow_unresolved=allow_unresolved)
    return Endpoint(url=endpoint.url, scheme=endpoint.scheme, host=endpoint.host, port=endpoint.port,
                    literal=endpoint.literal, addresses=addresses)


# ---------------------------------------------------------------------------------------------------------------
# enforcement: a network backend and a transport for httpx2 (public APIs of httpcore2 and httpx2 only)


class GuardedNetworkBackend(httpcore2.AsyncNetworkBackend):
    """Resolves and checks the host right before each TCP connection and connects to a checked address."""

    def __init__(self, policy: EndpointPolicy, resolver: Resolver | None = None) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore2.AsyncNetworkStream:
        import anyio.to_thread

        if not self._policy.check_addresses:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await anyio.to_thread.run_sync(
            lambda: host_check(host, self._policy, resolver=self._resolver))
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore2.AsyncNetworkStream:
        raise EndpointRefused("Model endpoints are reached over TCP only.", code="scheme")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _httpx_error(exc: Exception) -> Exception:
    """The httpx2 exception of the same name as an httpcore2 one (what httpx2's own transport raises)."""
    for klass in type(exc).__mro__:
        target = getattr(httpx2, klass.__name__, None)
        if isinstance(target, type) and issubclass(target, httpx2.TransportError):
            return target(str(exc))
    return httpx2.TransportError(str(exc))


class _ResponseStream(httpx2.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except httpcore2.TimeoutException as exc:
            raise _httpx_error(exc) from exc
        except (httpcore2.NetworkError, httpcore2.ProtocolError) as exc:
            raise _httpx_error(exc) from exc

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


REFUSED_HEADER = "x-portal-endpoint-refused"


def _refusal(status: int, message: str) -> httpx2.Response:
    return httpx2.Response(status, headers={REFUSED_HEADER: "1"},
                           json={"error": {"message": message, "type": "portal_endpoint_policy",
                                           "code": "endpoint_refused"}})


class GuardedTransport(httpx2.AsyncBaseTransport):
    """Talks to one origin only, through ``GuardedNetworkBackend``, and never hands a redirect to the client."""

    def __init__(self, *, origin: Endpoint, policy: EndpointPolicy, resolver: Resolver | None = None,
                 max_connections: int | None = 1000, retries: int = 1,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.origin = origin
        self.requests = 0  # requests sent on (not refused): lets a caller see that this transport was used
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context or httpx2.create_ssl_context(),
            max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=5.0,
            retries=retries, network_backend=GuardedNetworkBackend(policy, resolver),
        )

    def _same_origin(self, url: httpx2.URL) -> bool:
        try:
            host, _ = _normalise_host(url.host)
        except EndpointRefused:
            return False
        port = url.port or (443 if url.scheme == "https" else 80)
        return (url.scheme, host, port) == self.origin.origin

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not self._same_origin(request.url):
            return _refusal(403, "Refused by the portal: a model's client may only call its registered base URL.")
        core_request = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                              target=request.url.raw_path),
            headers=request.headers.raw,
            content=request.stream,  # type: ignore[arg-type]
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except EndpointRefused as exc:
            return _refusal(403, f"Refused by the portal before connecting: {exc}")
        except (httpcore2.TimeoutException, httpcore2.NetworkError, httpcore2.ProtocolError,
                httpcore2.UnsupportedProtocol) as exc:
            raise _httpx_error(exc) from exc
        self.requests += 1
        if 300 <= response.status < 400:
            await response.aclose()  # the body of a redirect is not read, nor is its target
            return _refusal(response.status, f"The model endpoint answered with a redirect (HTTP {response.status}); "
                                             "the portal does not follow redirects. Register the final URL instead.")
        return httpx2.Response(status_code=response.status, headers=response.headers,
                               stream=_ResponseStream(response.stream), extensions=response.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()


DEFAULT_TIMEOUT = httpx2.Timeout(600.0, connect=60.0)


def guarded_client(*, base_url: str, policy: EndpointPolicy, resolver: Resolver | None = None,
                   max_connections: int | None = 1000) -> httpx2.AsyncClient:
    """An httpx2 client for one model endpoint: no redirects, no proxies from the environment, every connection
    checked (see the module docstring)."""
    origin = endpoint_parse(base_url)
    transport = GuardedTransport(origin=origin, policy=policy, resolver=resolver, max_connections=max_connections)
    return httpx2.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, timeout=DEFAULT_TIMEOUT)


# ---------------------------------------------------------------------------------------------------------------
# providers

# Providers whose Inspect class takes the ``http_client`` model argument and builds its OpenAI client with it
# (pinned by tests/security/test_netguard_providers.py), with what a blank base URL means: the provider's
# built-in default, or None when a base URL is required (it would otherwise come from an environment variable).
GUARDED_PROVIDERS: dict[str, str | None] = {
    "openai": "https://api.openai.com/v1",
    "openai-api": None,
    "openai-api-completions": None,
    "deepseek": "https://api.deepseek.com",
    "openrouter": "https://openrouter.ai/api/v1",
    "perplexity": "https://api.perplexity.ai/v1",
    "moonshot": "https://api.moonshot.ai/v1",
    "meta": "https://api.meta.ai/v1",
    "hf-inference-providers": "https://router.huggingface.co/v1",
}
# Providers that run in the worker process and call no endpoint.
IN_PROCESS_PROVIDERS = frozenset({"mockllm", "none", "hf", "transformer_lens", "nnterp"})
# What a blank base URL would mean for providers the portal cannot guard (for the refusal message only).
UNGUARDED_DEFAULTS: dict[str, str] = {
    "ollama": "http://localhost:11434/v1", "llama-cpp-python": "http://localhost:8000/v1",
    "together": "https://api.together.xyz/v1", "fireworks": "https://api.fireworks.ai/inference/v1",
    "sambanova": "https://api.sambanova.ai/v1",
}


def provider_of(model: str) -> str:
    return model.split("/", 1)[0]


def model_endpoint(model: str, base_url: str | None) -> str | None:
    """The URL a model will call: its base URL, or its provider's default when blank; None for an in-process
    provider. Raises EndpointRefused when the provider cannot be guarded or a base URL is required."""
    provider = provider_of(model)
    if provider in IN_PROCESS_PROVIDERS:
        return None
    if provider not in GUARDED_PROVIDERS:
        default = UNGUARDED_DEFAULTS.get(provider)
        hint = f" (with a blank base URL it would call {default})" if default and not base_url else ""
        raise EndpointRefused(
            f"The portal cannot check where the {provider} provider connects{hint}, so it does not run it. "
            "If the server speaks the OpenAI API, register it as openai-api/<service>/<model> with its base URL.",
            code="provider",
        )
    url = (base_url or "").strip() or GUARDED_PROVIDERS[provider]
    if not url:
        raise EndpointRefused(f"A {provider} model needs a base URL.", code="base_url")
    return url


def guarded_model_args(model: str, base_url: str | None, policy: EndpointPolicy, *,
                       resolver: Resolver | None = None, max_connections: int | None = 1000,
                       ) -> tuple[str | None, dict[str, Any]]:
    """(base URL to pass to get_model, model args to add) for one model call site, after checking the endpoint
    right now (resolved, against the policy). Raises EndpointRefused."""
    url = model_endpoint(model, base_url)
    if url is None:
        return base_url or None, {}
    endpoint_check(url, policy, resolver=resolver)
    return url, {"http_client": guarded_client(base_url=url, policy=policy, resolver=resolver,
                                               max_connections=max_connections)}


def verify_guarded(model: Any, model_args: dict[str, Any]) -> None:
    """Fail closed if an Inspect Model built with ``guarded_model_args`` does not use the guarded client."""
    client = model_args.get("http_client")
    if client is None:
        return
    api = getattr(model, "api", None)
    if getattr(api, "http_client", None) is not client:
        raise EndpointRefused(
            f"The {type(api).__name__} provider did not take the portal's guarded HTTP client; it is not run.",
            code="provider",
        )


# ---------------------------------------------------------------------------------------------------------------
# error text

SUMMARY_LENGTH = 300
_SPACE = re.compile(r"\s+")
# Inspect's ModelGenerateError starts with the request it sent (prompt and all) as indented JSON: not the error
_REQUEST_BLOCK = re.compile(r"Request:\s*\n\{\n.*?\n\}\n?", re.DOTALL)


def error_summary(text: str | None, scrub: Callable[[str], str] | None = None, *,
                  limit: int = SUMMARY_LENGTH) -> str:
    """One short line of an error from a model endpoint: whitespace collapsed, scrubbed, cut to ``limit``."""
    if not text:
        return ""
    line = _SPACE.sub(" ", _REQUEST_BLOCK.sub(" ", str(text))).strip()
    line = scrub(line) if scrub else line
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return scrub(line) if scrub else line  # a secret cut in half by the limit is scrubbed by its fragments
