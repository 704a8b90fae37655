"""Test-only: imported at start-up by a worker process whose PYTHONPATH starts with this directory. When
PORTAL_TEST_FAKE_DNS holds a JSON object {name: [addresses]}, socket.getaddrinfo answers those names with those
addresses (every other name is resolved as usual). Nothing else changes: the endpoint policy is the portal's."""

from __future__ import annotations

import json
import os
import socket
import sys

_ANSWERS = {k.rstrip(".").lower(): v for k, v in json.loads(os.environ.get("PORTAL_TEST_FAKE_DNS") or "{}").items()}

if _ANSWERS:
    _real = socket.getaddrinfo

    def _fake(host, port, family=0, type=0, proto=0, flags=0):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else str(host)
        answers = _ANSWERS.get(name.rstrip(".").lower())
        if answers is None:
            return _real(host, port, family, type, proto, flags)
        out = []
        for address in answers:
            fam = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port or 0, 0, 0) if fam == socket.AF_INET6 else (address, port or 0)
            out.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return out

    socket.getaddrinfo = _fake
    print(f"fake DNS installed for {sorted(_ANSWERS)}", file=sys.stderr, flush=True)
