"""Adjusted p-values for many comparisons on one page (every pair of items, every metric).

With ``m`` known p-values sorted ascending ``p_(1) <= ... <= p_(m)`` (``None``, a comparison without a p-value,
is left out of ``m`` and stays ``None``):

- **Holm** (1979), step-down, controls the family-wise error rate:
  ``p̃_(i) = min(1, max_{j <= i} (m - j + 1) * p_(j))``.
- **Benjamini-Hochberg** (1995), step-up, controls the false discovery rate:
  ``p̃_(i) = min(1, min_{j >= i} m * p_(j) / j)``.

Both equal statsmodels ``multipletests(p, method="holm" | "fdr_bh")[1]``, the tests' reference.
"""

from __future__ import annotations

from collections.abc import Sequence


def _known(p_values: Sequence[float | None]) -> list[tuple[float, int]]:
    return sorted((p, index) for index, p in enumerate(p_values) if p is not None)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values, in the order given."""
    known = _known(p_values)
    m = len(known)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(known):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the order given."""
    known = _known(p_values)
    m = len(known)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        p, index = known[rank]
        running = min(running, m * p / (rank + 1))
        adjusted[index] = min(1.0, running)
    return adjusted
