"""The guarded HTTP client against real servers on 127.0.0.x, through Inspect's own OpenAI-compatible provider:
redirects of every kind are not followed (the internal recorder never sees a request, the model's key and extra
headers go only to the registered endpoint), each connection goes to the address the guard resolved and checked
(DNS rebinding between two connections is caught), and TLS keeps the host name (SNI and certificate check)."""

from __future__ import annotations

import asyncio
import datetime
import http.server
import json
import ssl
import threading
from pathlib import Path

import httpx2
import pytest
from inspect_ai.model import GenerateConfig, get_model

from evaluations.engine import netguard
from evaluations.engine.netguard import EndpointPolicy
from tests.security.servers import (
    CANARIES,
    INTERNAL_HOST,
    PUBLIC_ALLOWLIST,
    PUBLIC_HOST,
    REDIRECT_CODES,
    RecordingServer,
    ssrf_servers,
)

POLICY = EndpointPolicy(debug=False, allowlist=(PUBLIC_ALLOWLIST,))
KEY = "sk-ssrf-client-key-5e1f9a3c7b2d"
HEADER = "gw-ssrf-client-header-8c4b2e6a"


def generate_once(base_url: str, *, resolver=None) -> str:  # type: ignore[no-untyped-def]
    """One chat completion through a guarded openai-api model; the error text Inspect reports (or the answer)."""
    url, guard = netguard.guarded_model_args("openai-api/svc/m", base_url, POLICY, resolver=resolver)
    model = get_model("openai-api/svc/m", base_url=url, api_key=KEY, memoize=False,
                      config=GenerateConfig(max_retries=0, timeout=10), default_headers={"X-Gateway-Token": HEADER},
                      **guard)
    netguard.verify_guarded(model, guard)

    async def call() -> str:
        try:
            output = await model.generate("Say OK.")
        except Exception as exc:  # noqa: BLE001 - the text is what the test looks at
            return f"{type(exc).__name__}: {exc}"
        return output.error or output.completion

    return asyncio.run(call())


def test_no_redirect_of_any_code_or_location_form_is_followed():
    with ssrf_servers() as servers:
        variants = servers.variants()
        texts = {(s.code, s.location): generate_once(s.base_url) for s in variants}
        assert servers.reached_internal() == []
        assert servers.followed_same_origin() == 0
        for server in variants:  # each redirecting endpoint was asked once, with the model's key and header
            assert [r.path for r in server.requests] == ["/v1/chat/completions"]
            assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
            assert server.requests[0].headers["x-gateway-token"] == HEADER
    assert len(texts) == len(REDIRECT_CODES) * 3
    for (code, location), text in texts.items():
        assert f"redirect (HTTP {code})" in text, (code, location, text)
        assert not [c for c in CANARIES if c in text], (code, location, text)
        assert INTERNAL_HOST not in text


def test_a_request_to_another_origin_is_refused_by_the_client():
    recorder = RecordingServer()
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    try:
        client = netguard.guarded_client(base_url=f"http://{PUBLIC_HOST}:9/v1", policy=POLICY)

        async def call() -> httpx2.Response:
            async with client:
                return await client.post(f"{recorder.base}/v1/chat/completions", json={})

        response = asyncio.run(call())
    finally:
        recorder.shutdown()
        recorder.server_close()
    assert response.status_code == 403 and response.headers[netguard.REFUSED_HEADER] == "1"
    assert recorder.requests == []


class _Echo(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def log_message(self, *args):  # type: ignore[no-untyped-def]
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        data = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": "OK"}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_each_connection_goes_to_the_address_just_checked_so_a_rebinding_name_is_caught():
    public = http.server.ThreadingHTTPServer((PUBLIC_HOST, 0), _Echo)
    port = public.server_address[1]
    internal = RecordingServer(port=port)  # the same port on the internal address: only the address differs
    for server in (public, internal):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    _Echo.seen = []
    base_url = f"http://models.rebind.example:{port}/v1"
    lookups: list[str] = []

    def stable(host: str) -> list[str]:
        lookups.append(host)
        return [PUBLIC_HOST]

    answers = iter([[PUBLIC_HOST]])

    def rebinding(host: str) -> list[str]:  # public for the check before the call, internal at connection time
        return next(answers, [INTERNAL_HOST])

    try:
        # the guard resolves the name itself, connects to the checked address, and the name stays in Host
        assert generate_once(base_url, resolver=stable) == "OK"
        assert _Echo.seen[-1]["host"] == f"models.rebind.example:{port}"
        assert lookups == ["models.rebind.example"] * 2  # once before the call, once for the connection
        seen_before = len(_Echo.seen)
        text = generate_once(base_url, resolver=rebinding)
    finally:
        for server in (public, internal):
            server.shutdown()
            server.server_close()
    assert "Refused by the portal before connecting" in text and "loopback" in text, text
    assert internal.requests == []
    assert len(_Echo.seen) == seen_before


def _self_signed(tmp_path: Path, name: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls_to_the_checked_address_keeps_the_host_name_for_sni_and_the_certificate(tmp_path):
    name = "models.tls.example"
    cert, key = _self_signed(tmp_path, name)
    server = http.server.ThreadingHTTPServer((PUBLIC_HOST, 0), _Echo)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    sni: list[str | None] = []
    context.sni_callback = lambda sock, server_name, ctx: sni.append(server_name)  # type: ignore[func-returns-value]
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Echo.seen = []
    port = server.server_address[1]
    try:
        origin = netguard.endpoint_parse(f"https://{name}:{port}/v1")
        transport = netguard.GuardedTransport(origin=origin, policy=POLICY, resolver=lambda host: [PUBLIC_HOST],
                                              ssl_context=ssl.create_default_context(cafile=cert))
        client = httpx2.AsyncClient(transport=transport, follow_redirects=False)

        async def call() -> httpx2.Response:
            async with client:
                return await client.post(f"https://{name}:{port}/v1/chat/completions", json={})

        response = asyncio.run(call())
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200  # the certificate for the name verified against a connection to the IP
    assert sni == [name]
    assert _Echo.seen[-1]["host"] == f"{name}:{port}"


@pytest.mark.parametrize("provider_model", ["ollama/llama3", "vllm/some/model", "together/m", "litellm-proxy/m"])
def test_providers_the_guard_cannot_hold_are_refused_before_any_connection(provider_model):
    with pytest.raises(netguard.EndpointRefused) as info:
        netguard.guarded_model_args(provider_model, "", POLICY)
    assert info.value.code == "provider"
