"""Inspect's own built log viewer for one run item's log, its files served behind the item's access check and
under the content security policy the viewer ships with (the only page without the portal's own policy)."""

from __future__ import annotations

import json
import mimetypes
from functools import cache
from pathlib import Path
from typing import Any

from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from accounts.access import get_visible_or_404
from accounts.gates import institute_member_required
from evaluations.models import RunItem
from evaluations.views.runs import item_log_url


@cache
def _viewer_dist() -> Path:
    import inspect_ai

    return Path(inspect_ai.__file__).parent / "_view" / "dist"


@cache
def viewer_csp() -> dict[str, Any]:
    """The policy the viewer ships with (content-security-policy.json), applied to the viewer's views only."""
    try:
        policy = json.loads((_viewer_dist() / "content-security-policy.json").read_text())["directives"]
    except (OSError, ValueError, KeyError):
        policy = {}
    policy.setdefault("script-src", ["'self'", "'wasm-unsafe-eval'"])
    policy["frame-ancestors"] = ["'none'"]
    policy["form-action"] = ["'none'"]
    return policy


@login_required
@institute_member_required
@csp_replace(viewer_csp())  # type: ignore[arg-type]
def log_viewer_view(request: HttpRequest, pk: int, path: str = "") -> HttpResponseBase:
    """Inspect's own built log viewer for one item's log; its files are served behind the item's access check."""
    item = get_visible_or_404(request.user, RunItem.objects.select_related("run"), pk=pk)
    if not item.log_path:
        raise Http404("This item has no log yet.")
    dist = _viewer_dist().resolve()
    if not path:
        log_url = item_log_url(item)
        if request.GET.get("log_file") != log_url:
            return redirect(f"{reverse('run-item-viewer', kwargs={'pk': item.pk})}?log_file={log_url}")
        path = "index.html"
    target = (dist / path).resolve()
    if dist not in target.parents or not target.is_file():
        raise Http404
    content_type = mimetypes.guess_type(str(target))[0] or "application/octet-stream"
    if target.suffix in {".js", ".mjs"}:
        content_type = "text/javascript"
    response = FileResponse(open(target, "rb"), content_type=content_type)  # noqa: SIM115
    response["Cache-Control"] = "private, max-age=3600"
    return response
