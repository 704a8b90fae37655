"""Query shapes the planner needs spelled out (issue 13, "Speed"): helpers for selectors, no access decisions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, Lookup, QuerySet


class _EqualsAny(Lookup):
    lookup_name = "equals_any"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


def any_of(field: str, ids: QuerySet[Any]) -> Lookup:
    """A filter ``field = ANY(ARRAY(subquery))``, as ``queryset.filter(any_of("run_id", runs.values("pk")))``:
    PostgreSQL computes the ids first and reads the rows through ``field``'s index. With ``field IN (subquery)`` it
    may choose a hash join instead: for an exercise's run items that read every item of a state in the database."""
    return _EqualsAny(F(field), ArraySubquery(ids))


def prefetched_release(objects: Iterable[Any]) -> None:
    """Drop what ``prefetch_related`` cached on ``objects`` (once they are serialised), so that reference counting
    frees the rows at once. A prefetched reverse relation sets each related row's link back to its parent (a run's
    items each hold the run), and the parent's cache holds a QuerySet holding the rows: a reference cycle per
    parent, which only CPython's cyclic collector frees. A page of 50 runs left ~6,600 such objects per request
    (with their items, versions, approvals and per-run QuerySets); they piled up in the oldest generation, whose
    collection then freed ~60,000 at a time inside some later request: 70-290 ms, the one slow request per round
    of ``/api/v1/runs/`` at scale (issue 13, docs/benchmarks.md §3)."""
    for obj in objects:
        cache = getattr(obj, "_prefetched_objects_cache", None)
        if cache:
            for related in cache.values():
                for row in getattr(related, "_result_cache", None) or ():
                    prefetched_release((row,))
            cache.clear()
