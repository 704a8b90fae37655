"""Real HTTP servers for the SSRF tests: a "public" model endpoint that answers every request with a redirect,
and an "internal" recorder that logs every request it gets and answers with a body canary.

The public one listens on 127.0.0.2 (the tests allowlist 127.0.0.2/32, standing in for a public address); the
recorder on 127.0.0.3, which is not allowlisted, with DEBUG off: it stands for an internal service (a cloud
metadata endpoint, an admin API). Ports come from the OS."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PUBLIC_HOST = "127.0.0.2"
INTERNAL_HOST = "127.0.0.3"
PUBLIC_ALLOWLIST = f"{PUBLIC_HOST}/32"
BODY_CANARY = "INTERNAL-BODY-CANARY-7f3a9c1e5d"  # only the recorder ever sends this
REDIRECT_BODY_CANARY = "REDIRECT-BODY-CANARY-2b8e6d4f"  # the body of the redirect response itself
SAME_ORIGIN_CANARY = "SAME-ORIGIN-LEAK-CANARY-5c1d9e"  # what the public server serves at its own /leak path
REDIRECT_CODES = (301, 302, 307, 308)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


class _RecorderHandler(BaseHTTPRequestHandler):
    server: RecordingServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.server.lock:
            self.server.requests.append(Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        data = json.dumps({"error": {"message": BODY_CANARY}, "secret": BODY_CANARY}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = _answer  # noqa: N815


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = INTERNAL_HOST, port: int = 0) -> None:
        super().__init__((host, port), _RecorderHandler)
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"


class _RedirectHandler(BaseHTTPRequestHandler):
    """Every POST is answered with ``server.code`` and a Location chosen by ``server.location``:
    absolute (``http://127.0.0.3:P/...``), scheme-relative (``//127.0.0.3:P/...``) or path-relative (``/leak``,
    back to this server, which serves SAME_ORIGIN_CANARY there)."""

    server: RedirectingServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.server.lock:
            self.server.requests.append(Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.path.startswith("/leak"):
            self.server.leak_hits += 1
            self._send(200, {"error": {"message": SAME_ORIGIN_CANARY}})
            return
        target = self.server.target_url()
        data = json.dumps({"error": {"message": REDIRECT_BODY_CANARY}}).encode()
        self.send_response(self.server.code)
        self.send_header("Location", target)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST  # noqa: N815

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class RedirectingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, recorder: RecordingServer, host: str = PUBLIC_HOST, code: int = 302,
                 location: str = "absolute") -> None:
        super().__init__((host, 0), _RedirectHandler)
        self.recorder = recorder
        self.code = code
        self.location = location
        self.requests: list[Recorded] = []
        self.leak_hits = 0
        self.lock = threading.Lock()

    def target_url(self) -> str:
        _, port = self.recorder.server_address[:2]
        if self.location == "absolute":
            return f"http://{INTERNAL_HOST}:{port}/latest/meta-data/iam"
        if self.location == "scheme-relative":
            return f"//{INTERNAL_HOST}:{port}/latest/meta-data/iam"
        return "/leak/v1/chat/completions"

    @property
    def base_url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}/v1"


@dataclass
class Servers:
    recorder: RecordingServer
    redirectors: list[RedirectingServer] = field(default_factory=list)

    def redirector(self, code: int = 302, location: str = "absolute") -> RedirectingServer:
        server = RedirectingServer(self.recorder, code=code, location=location)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.redirectors.append(server)
        return server

    def variants(self) -> list[RedirectingServer]:
        """One redirecting server per (code, Location form)."""
        return [self.redirector(code, location) for code in REDIRECT_CODES
                for location in ("absolute", "scheme-relative", "path-relative")]

    def reached_internal(self) -> list[Recorded]:
        return list(self.recorder.requests)

    def followed_same_origin(self) -> int:
        return sum(r.leak_hits for r in self.redirectors)


@contextlib.contextmanager
def ssrf_servers() -> Iterator[Servers]:
    recorder = RecordingServer()
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    servers = Servers(recorder=recorder)
    try:
        yield servers
    finally:
        for server in [*servers.redirectors, recorder]:
            server.shutdown()
            server.server_close()


CANARIES = [BODY_CANARY, REDIRECT_BODY_CANARY, SAME_ORIGIN_CANARY]
