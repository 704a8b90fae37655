"""Pagination of the portal's HTML lists (the API has its own, portal.api.Pagination, on the same paginators)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils.functional import cached_property

PAGE_SIZE = 25
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """A paginator whose count stops at ``cap`` rows, for lists that grow without end (the audit trail): it counts
    ``SELECT COUNT(*) FROM (SELECT ... LIMIT cap + 1)``, so its cost is bounded whatever the number of rows, where
    an exact ``COUNT(*)`` reads every row the reader may see (issue 13, "Speed"). The pages reach the first ``cap``
    rows; ``capped`` is True when more match (the page says so and offers the filters and the CSV download)."""

    cap = COUNT_CAP

    @cached_property
    def _counted(self) -> int:
        rows: Any = self.object_list  # a QuerySet: COUNT(*) of a sliced one counts a LIMIT subquery
        return int(rows[: self.cap + 1].count())

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        return min(self._counted, self.cap)

    @cached_property
    def capped(self) -> bool:
        return self._counted > self.cap


class CountedPaginator(Paginator):
    """A paginator told its count (a selector counted the rows already, with what it needed besides: the search's
    sample count and cap in one query), so that it runs no COUNT(*) of its own."""

    def __init__(self, object_list: Any, per_page: int, *, count: int, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.known_count = count

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        return self.known_count


def page_of(request: HttpRequest, items: Any, size: int = PAGE_SIZE, *, capped: bool = False,
            count: int | None = None) -> Page[Any]:
    """The page named by ``?page=`` (the last one when too high, the first when not a number). ``capped``: count at
    most ``COUNT_CAP`` rows (``CappedPaginator``); ``count``: the rows' number, already known (``CountedPaginator``)."""
    paginator: Paginator
    if count is not None:
        paginator = CountedPaginator(items, size, count=count)
    elif capped:
        paginator = CappedPaginator(items, size)
    else:
        paginator = Paginator(items, size)
    return paginator.get_page(request.GET.get("page"))
