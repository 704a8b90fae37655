"""Gates for whole areas of the portal that exist only for institute members (models, evaluations, runs).

A partner viewer (or anyone without an institute) gets 404 from every page and endpoint of such an area, lists
and "new" pages included, so the UI and the API never reveal that the area exists (ROLES.md: "none")."""

from __future__ import annotations

import functools
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from accounts.access import is_institute_member


def institute_member_required(view: Any) -> Any:
    """For UI views, placed under ``login_required``: 404 for anyone who is not an institute member."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_institute_member(request.user):
            raise Http404("Not found.")
        return view(request, *args, **kwargs)

    return wrapper


class InstituteMembersOnly:
    """Mixin for DRF views: after authentication, 404 for anyone who is not an institute member."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if not is_institute_member(request.user):
            raise NotFound()
