"""Pagination of the portal's HTML lists (the API has its own, portal.api.Pagination)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 25


def page_of(request: HttpRequest, items: Any, size: int = PAGE_SIZE) -> Page[Any]:
    """The page named by ``?page=`` (the last one when too high, the first when not a number)."""
    return Paginator(items, size).get_page(request.GET.get("page"))
