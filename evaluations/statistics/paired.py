"""Per pair of items on the same evaluation version: the paired difference on the samples both scored.

Miller (2024), "Adding error bars to evals" (arXiv 2411.00640), section 4 ("comparing two models"): because both
models answer the same questions, the difference is computed per question and its standard error is that of the
mean of those differences; this removes the between-question variance both models share and is much smaller than
the unpaired ``sqrt(SE_a² + SE_b²)`` when the scores are correlated.

With ``x_i`` and ``y_i`` the epoch-averaged scores of sample ``i`` in items A and B (``estimates.sample_means``),
on the ``n`` samples both have:

- **Difference** ``d_i = y_i - x_i`` (B minus A), ``d̄ = (1/n) sum_i d_i``.
- **Clustered SE** ``SE² = G/(G-1) * sum_c (sum_{i in c} (d_i - d̄))² / n²`` (``estimates.clustered_stderr``; every
  sample its own cluster unless a cluster field groups them). Without clusters this is
  ``(Var(x) + Var(y) - 2 Cov(x, y)) / n`` of Miller's equation 7.
- **Interval and p-value**: Student's t with ``G - 1`` degrees of freedom, ``d̄ ± t * SE`` and the two-sided
  ``P(|T| >= |d̄ / SE|)`` (the paired t test; scipy ``ttest_rel`` without clusters).
- **Correlation** of the pair's scores: Pearson's r of ``x`` and ``y`` (``None`` when either does not vary).
- **McNemar's exact test** for binary scores (every ``x_i`` and ``y_i`` 0 or 1): with ``b`` the samples only B got
  right and ``c`` those only A got right, ``p = min(1, 2 * P(X <= min(b, c)))`` for ``X ~ Binomial(b + c, 1/2)``;
  1 when there is no discordant pair. It is the p-value reported (``test = "mcnemar-exact"``) when the scores are
  binary and no cluster field groups the samples (McNemar assumes independent pairs); otherwise the paired t test's.
- **Paired bootstrap interval**, a check on the t interval: clusters of samples resampled with replacement
  ``reps`` times with a fixed seed, the difference ``sum D_c / sum N_c`` of each resample, the percentile interval.
  When the clusters take few distinct ``(D_c, N_c)`` values (binary scores do: -1, 0, 1) one multinomial draw of
  their counts replaces resampling them one by one (the same distribution, much faster).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluations.statistics.distributions import binomial_half_cdf, t_two_sided_p
from evaluations.statistics.estimates import DEFAULT_CONFIDENCE, clustered_stderr, is_binary, t_interval

BOOTSTRAP_REPS = 1000
BOOTSTRAP_SEED = 20241101  # fixed: the same data give the same interval every time
_FEW_DISTINCT = 256


@dataclass(frozen=True)
class PairedComparison:
    """B minus A on the ``n`` shared samples (``clusters`` independent clusters of them)."""

    n: int
    clusters: int
    mean_a: float | None
    mean_b: float | None
    difference: float | None
    stderr: float | None
    ci: tuple[float, float] | None
    t_p_value: float | None
    correlation: float | None
    binary: bool
    only_b: int | None  # binary: samples B got right and A wrong
    only_a: int | None
    mcnemar_p_value: float | None
    p_value: float | None
    test: str
    bootstrap_ci: tuple[float, float] | None
    confidence: float = DEFAULT_CONFIDENCE

    def as_dict(self) -> dict[str, object]:
        return {"n": self.n, "clusters": self.clusters, "mean_a": self.mean_a, "mean_b": self.mean_b,
                "difference": self.difference, "stderr": self.stderr, "ci": list(self.ci) if self.ci else None,
                "t_p_value": self.t_p_value, "correlation": self.correlation, "binary": self.binary,
                "only_b": self.only_b, "only_a": self.only_a, "mcnemar_p_value": self.mcnemar_p_value,
                "p_value": self.p_value, "test": self.test,
                "bootstrap_ci": list(self.bootstrap_ci) if self.bootstrap_ci else None,
                "confidence": self.confidence}


def pearson(x: list[float], y: list[float]) -> float | None:
    """Pearson's correlation coefficient; ``None`` for fewer than two values or a constant side."""
    n = len(x)
    if n < 2:
        return None
    mx, my = math.fsum(x) / n, math.fsum(y) / n
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def mcnemar_exact(only_b: int, only_a: int) -> float:
    """McNemar's exact two-sided p-value from the two discordant counts (1.0 when both are 0)."""
    discordant = only_b + only_a
    if discordant == 0:
        return 1.0
    return min(1.0, 2.0 * binomial_half_cdf(min(only_b, only_a), discordant))


def bootstrap_interval(differences: Sequence[float], clusters: Sequence[Hashable] | None = None, *,
                       reps: int = BOOTSTRAP_REPS, seed: int = BOOTSTRAP_SEED,
                       confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float] | None:
    """Percentile interval of the mean difference over cluster resamples (module notes); ``None`` below two
    clusters."""
    if clusters is None:
        totals = np.asarray(differences, dtype=float)
        counts = np.ones(len(totals))
    else:
        sums: dict[Hashable, list[float]] = {}
        for value, cluster in zip(differences, clusters, strict=True):
            entry = sums.setdefault(cluster, [0.0, 0.0])
            entry[0] += value
            entry[1] += 1.0
        totals = np.asarray([v[0] for v in sums.values()])
        counts = np.asarray([v[1] for v in sums.values()])
    groups = len(totals)
    if groups < 2:
        return None
    rng = np.random.default_rng(seed)
    pairs, inverse = np.unique(np.stack([totals, counts], axis=1), axis=0, return_inverse=True)
    if len(pairs) <= _FEW_DISTINCT:
        weights = np.bincount(inverse.ravel(), minlength=len(pairs)) / groups
        drawn = rng.multinomial(groups, weights, size=reps)
        stats = (drawn @ pairs[:, 0]) / (drawn @ pairs[:, 1])
    else:
        stats = np.empty(reps)
        chunk = max(1, 4_000_000 // groups)
        for start in range(0, reps, chunk):
            size = min(chunk, reps - start)
            index = rng.integers(0, groups, size=(size, groups))
            stats[start:start + size] = totals[index].sum(axis=1) / counts[index].sum(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def paired_compare(a: Mapping[Any, float], b: Mapping[Any, float], *,
                   clusters: Mapping[Any, Any] | None = None, confidence: float = DEFAULT_CONFIDENCE,
                   bootstrap_reps: int = BOOTSTRAP_REPS, seed: int = BOOTSTRAP_SEED) -> PairedComparison:
    """B minus A on the samples both have (``a``, ``b``: ``{sample: epoch-averaged score}``). ``clusters`` maps a
    sample to its cluster label (a sample missing from it is its own cluster)."""
    keys = [key for key in a if key in b]
    x = [a[k] for k in keys]
    y = [b[k] for k in keys]
    d = [yi - xi for xi, yi in zip(x, y, strict=True)]
    labels = None if clusters is None else [(True, clusters[k]) if k in clusters else (False, k) for k in keys]
    mean, se, groups = clustered_stderr(d, labels)
    n = len(keys)
    ci = t_p = None
    if mean is not None and se is not None:
        if se > 0:
            ci = t_interval(mean, se, groups - 1, confidence=confidence)
            t_p = t_two_sided_p(mean / se, groups - 1)
        else:  # every difference is the same
            ci = (mean, mean)
            t_p = 1.0 if mean == 0 else None
    binary = bool(keys) and is_binary(x) and is_binary(y)
    only_a = only_b = None
    mcnemar = None
    if binary:
        only_b = sum(1 for xi, yi in zip(x, y, strict=True) if yi > xi)
        only_a = sum(1 for xi, yi in zip(x, y, strict=True) if xi > yi)
        mcnemar = mcnemar_exact(only_b, only_a)
    use_mcnemar = binary and clusters is None
    return PairedComparison(
        n=n, clusters=groups, mean_a=math.fsum(x) / n if n else None, mean_b=math.fsum(y) / n if n else None,
        difference=mean, stderr=se, ci=ci, t_p_value=t_p, correlation=pearson(x, y), binary=binary,
        only_b=only_b, only_a=only_a, mcnemar_p_value=mcnemar,
        p_value=mcnemar if use_mcnemar else t_p, test="mcnemar-exact" if use_mcnemar else ("paired-t" if n else ""),
        bootstrap_ci=bootstrap_interval(d, labels, reps=bootstrap_reps, seed=seed, confidence=confidence)
        if bootstrap_reps > 0 else None,
        confidence=confidence)
