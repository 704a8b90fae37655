"""Query shapes the planner needs spelled out (issue 13, "Speed"): helpers for selectors, no access decisions."""

from __future__ import annotations

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
