"""Reads of the dispatcher: the order in which waiting items go to the workers."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

from django.utils import timezone

from evaluations.models import RunItem

WAITING_WINDOW = 1000  # the dispatcher orders at most this many waiting items at once


def dispatch_order(items: Sequence[RunItem]) -> list[RunItem]:
    """Round-robin over institutes, and within an institute over its runs: one big run never starves others."""
    by_owner: dict[int, dict[int, deque[RunItem]]] = defaultdict(lambda: defaultdict(deque))
    for item in items:
        by_owner[item.run.owner_id][item.run_id].append(item)
    owners = deque(sorted(by_owner, key=lambda o: min(i.queued_at or timezone.now()
                                                       for q in by_owner[o].values() for i in q)))
    run_cycles = {owner: deque(runs) for owner, runs in by_owner.items()}
    ordered: list[RunItem] = []
    while owners:
        owner = owners.popleft()
        runs = run_cycles[owner]
        run_id = runs.popleft()
        ordered.append(by_owner[owner][run_id].popleft())
        if by_owner[owner][run_id]:
            runs.append(run_id)
        if runs:
            owners.append(owner)
    return ordered
