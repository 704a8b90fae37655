"""File responses of the portal: a stored file (default_storage, local or S3) with HTTP Range support, for the
HTML pages and the API alike (Inspect's log viewer asks with HEAD and Range)."""

from __future__ import annotations

import os
import re
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def storage_file_response(request: Any, name: str, *, content_type: str) -> HttpResponseBase:
    """The stored file ``name`` (default_storage) with HTTP Range support: 206 for one byte range, 416 when it
    cannot be met, the whole file otherwise (``?download=1``: as an attachment). Raises Http404 when it is gone."""
    if not name or not default_storage.exists(name):
        raise Http404("No such file.")
    size = default_storage.size(name)
    filename = os.path.basename(name)
    header = request.headers.get("Range", "") if hasattr(request, "headers") else ""
    match = _RANGE.match(header.strip()) if header else None
    if match and (match.group(1) or match.group(2)):
        start_s, end_s = match.groups()
        if start_s:
            start, end = int(start_s), min(int(end_s) if end_s else size - 1, size - 1)
        else:
            start, end = max(size - int(end_s), 0), size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle = default_storage.open(name, "rb")
        handle.seek(start)
        length = end - start + 1

        def chunks(remaining: int = length):  # type: ignore[no-untyped-def]
            try:
                while remaining > 0:
                    data = handle.read(min(65536, remaining))
                    if not data:
                        break
                    remaining -= len(data)
                    yield data
            finally:
                handle.close()

        partial = StreamingHttpResponse(chunks(), status=206, content_type=content_type)
        partial["Content-Range"] = f"bytes {start}-{end}/{size}"
        partial["Content-Length"] = str(length)
        partial["Accept-Ranges"] = "bytes"
        return partial
    full = FileResponse(default_storage.open(name, "rb"), content_type=content_type,
                        as_attachment=request.GET.get("download") == "1", filename=filename)
    full["Accept-Ranges"] = "bytes"
    full["Content-Length"] = str(size)
    return full
