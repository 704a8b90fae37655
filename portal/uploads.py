"""A size limit for uploads that holds before the body is read: ``install_upload_limit(request, ...)`` puts a
handler first in the request's upload handlers; it refuses an oversized request from its Content-Length, and stops
a file part as soon as it passes the limit (so a 2 GB upload is never read). Call it before anything reads
request.POST / request.FILES (for DRF: in ``initialize_request``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from portal.errors import TooLarge


class UploadLimitHandler(FileUploadHandler):
    def __init__(self, request: Any, *, max_bytes: int, error: Callable[[], TooLarge]) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.error = error

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # type: ignore[no-untyped-def]  # noqa: N803
        if content_length and content_length > self.max_bytes + 1024 * 1024:  # 1 MB for the other form fields
            raise self.error()
        return None

    def receive_data_chunk(self, raw_data, start):  # type: ignore[no-untyped-def]
        if start + len(raw_data) > self.max_bytes:
            raise self.error()
        return raw_data

    def file_complete(self, file_size):  # type: ignore[no-untyped-def]
        return None


def install_upload_limit(request: HttpRequest, *, max_bytes: int, error: Callable[[], TooLarge]) -> None:
    request.upload_handlers.insert(0, UploadLimitHandler(request, max_bytes=max_bytes, error=error))
