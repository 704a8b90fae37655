"""Inspect's own built log viewer for one run item's log: a portal page (header, a way back) frames the viewer, whose
files are served behind the item's access check under the policy the viewer ships with (the only pages without the
portal's own policy; framed by the portal only)."""

from __future__ import annotations

import importlib.util
import json
import mimetypes
from functools import cache
from pathlib import Path
from typing import Any

from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured
from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin

from accounts.access import get_visible_or_404
from accounts.gates import institute_member_required
from evaluations.models import RunItem
from evaluations.views.runs import item_log_url


@cache
def _viewer_dist() -> Path:
    # Found without importing inspect_ai (seconds of CPU): this runs when the URLconf is loaded, i.e. in every web
    # process before its first request.
    spec = importlib.util.find_spec("inspect_ai")
    if spec is None or spec.origin is None:
        raise ImproperlyConfigured("inspect_ai is not installed")
    return Path(spec.origin).parent / "_view" / "dist"


@cache
def viewer_csp() -> dict[str, Any]:
    """The policy the viewer ships with (content-security-policy.json), applied to the viewer's views only."""
    try:
        policy = json.loads((_viewer_dist() / "content-security-policy.json").read_text())["directives"]
    except (OSError, ValueError, KeyError):
        policy = {}
    policy.setdefault("script-src", ["'self'", "'wasm-unsafe-eval'"])
    policy["frame-ancestors"] = ["'self'"]  # framed by the portal's own viewer page, nowhere else
    policy["form-action"] = ["'none'"]
    return policy


@login_required
@institute_member_required
def log_viewer_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A portal page (header, breadcrumbs, a way back to the run) around Inspect's viewer, which runs in a frame
    under its own policy (``log_viewer_file_view``)."""
    item = get_visible_or_404(request.user, RunItem.objects.select_related(
        "run", "model_version__registered_model", "task_version__eval_task"), pk=pk)
    if not item.log_path:
        raise Http404("This item has no log yet.")
    log_url = item_log_url(item)
    viewer_url = f"{reverse('run-item-viewer-file', kwargs={'pk': item.pk, 'path': 'index.html'})}?log_file={log_url}"
    return render(request, "evaluations/runs/viewer.html", {
        "item": item, "run": item.run, "viewer_url": viewer_url, "log_url": log_url})


@login_required
@institute_member_required
@xframe_options_sameorigin
@csp_replace(viewer_csp())  # type: ignore[arg-type]
def log_viewer_file_view(request: HttpRequest, pk: int, path: str) -> HttpResponseBase:
    """Inspect's own built log viewer for one item's log (framed by ``log_viewer_view``); its files are served
    behind the item's access check."""
    item = get_visible_or_404(request.user, RunItem.objects.select_related("run"), pk=pk)
    if not item.log_path:
        raise Http404("This item has no log yet.")
    dist = _viewer_dist().resolve()
    if path == "index.html" and request.GET.get("log_file") != item_log_url(item):
        return redirect(f"{reverse('run-item-viewer-file', kwargs={'pk': item.pk, 'path': 'index.html'})}"
                        f"?log_file={item_log_url(item)}")
    target = (dist / path).resolve()
    if dist not in target.parents or not target.is_file():
        raise Http404
    content_type = mimetypes.guess_type(str(target))[0] or "application/octet-stream"
    if target.suffix in {".js", ".mjs"}:
        content_type = "text/javascript"
    response = FileResponse(open(target, "rb"), content_type=content_type)  # noqa: SIM115
    response["Cache-Control"] = "private, max-age=3600"
    return response
