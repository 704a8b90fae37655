"""Per item: the mean score with a clustered standard error and a confidence interval.

The method is Miller (2024), "Adding error bars to evals: a statistical approach to language model evaluations"
(arXiv 2411.00640). Notation: an item has ``n`` samples (the questions of the evaluation); sample ``i`` was scored
``K_i`` times (its epochs) with scores ``s_{i,1} .. s_{i,K_i}``.

1. **Epochs are averaged within a sample first** (Miller section 3.2): ``x_i = (1 / K_i) * sum_k s_{i,k}``. The
   epochs of one question are not independent observations of the evaluation; treating them so makes the interval
   too narrow. The mean is ``x̄ = (1 / n) * sum_i x_i`` (every sample weighs the same).
2. **Clustered standard error** (Miller section 2.3, equation 4, with the usual small-sample factor): samples are
   grouped in ``G`` clusters ``c`` (by default every sample is its own cluster; a task may name a metadata field,
   such as the passage several questions are about, whose samples are not independent). With residuals
   ``e_i = x_i - x̄`` and cluster sums ``E_c = sum_{i in c} e_i``::

       SE² = G / (G - 1) * sum_c E_c² / n²

   With one sample per cluster (``G = n``) this is the ordinary ``SE² = sum_i e_i² / (n (n - 1))``, the sample
   variance over ``n``. It equals the cluster-robust (CR1) standard error of an intercept-only regression
   (statsmodels ``OLS(...).fit(cov_type="cluster")``), which the tests use as the reference.
3. **Interval** at confidence ``1 - α``:

   - *Binary scores* (every score 0 or 1): the **Wilson score interval**, which never leaves 0 to 1, unlike the
     normal one near 0 % or 100 %::

         centre ± half = (p + z²/(2m) ± z * sqrt(p (1 - p) / m + z² / (4 m²))) / (1 + z²/m)

     with ``p = x̄``, ``z`` the normal ``1 - α/2`` quantile, and ``m = n`` when every sample was scored once and
     there are no clusters. Otherwise ``m`` is the *effective* sample size ``p (1 - p) / SE²`` (the design effect of
     the epochs and clusters carried into Wilson's formula); when SE is 0 and 0 < p < 1 the interval is ``[p, p]``,
     and when p is 0 or 1, ``m = G``.
   - *Other scores*: Student's t interval ``x̄ ± t_{1-α/2, G-1} * SE`` (degrees of freedom: clusters less one;
     for large ``G`` it is the normal ``x̄ ± 1.96 SE`` Miller recommends), clipped to 0 to 1 when every score
     lies in 0 to 1 (partial credit).

   Nothing is computed from fewer than two clusters: the mean is given, the standard error and the interval are
   ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluations.statistics.distributions import normal_quantile, t_quantile

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """One item's mean score. ``n``: samples (after averaging epochs); ``scores``: the scores they average;
    ``clusters``: independent clusters (``n`` without a cluster field); ``method``: "wilson", "t" or "" (none)."""

    n: int
    scores: int
    clusters: int
    mean: float | None
    stderr: float | None
    ci: tuple[float, float] | None
    method: str
    binary: bool
    confidence: float = DEFAULT_CONFIDENCE

    def as_dict(self) -> dict[str, object]:
        return {"n": self.n, "scores": self.scores, "clusters": self.clusters, "mean": self.mean,
                "stderr": self.stderr, "ci": list(self.ci) if self.ci else None, "method": self.method,
                "binary": self.binary, "confidence": self.confidence}


def is_binary(values: Iterable[float]) -> bool:
    """True when every value is 0 or 1 (and there is at least one)."""
    seen = False
    for value in values:
        if value != 0.0 and value != 1.0:
            return False
        seen = True
    return seen


def sample_means(scores: Iterable[tuple[Any, float]]) -> dict[Any, float]:
    """Average the epochs within each sample: ``(sample, score)`` pairs (a sample repeated once per epoch) to
    ``{sample: mean score}``, in first-seen order."""
    sums: dict[Hashable, list[float]] = {}
    for key, value in scores:
        sums.setdefault(key, []).append(value)
    return {key: math.fsum(values) / len(values) for key, values in sums.items()}


def clustered_stderr(values: Sequence[float], clusters: Sequence[Hashable] | None = None,
                     ) -> tuple[float | None, float | None, int]:
    """``(mean, SE, G)`` of ``values`` (one per sample), the SE clustered by ``clusters`` (one label per value;
    ``None``: every value its own cluster): ``SE² = G/(G-1) * sum_c (sum_{i in c} (x_i - x̄))² / n²``."""
    n = len(values)
    if n == 0:
        return None, None, 0
    mean = math.fsum(values) / n
    if clusters is None:
        groups = n
        total = math.fsum((v - mean) ** 2 for v in values)
    else:
        sums: dict[Hashable, float] = {}
        for value, cluster in zip(values, clusters, strict=True):
            sums[cluster] = sums.get(cluster, 0.0) + (value - mean)
        groups = len(sums)
        total = math.fsum(s * s for s in sums.values())
    if groups < 2:
        return mean, None, groups
    return mean, math.sqrt(groups / (groups - 1) * total / (n * n)), groups


def wilson_interval(p: float, m: float, *, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` out of ``m`` (possibly effective, not whole) trials."""
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    z2 = z * z
    denominator = 1.0 + z2 / m
    centre = (p + z2 / (2.0 * m)) / denominator
    half = z * math.sqrt(max(0.0, p * (1.0 - p) / m + z2 / (4.0 * m * m))) / denominator
    # (rounding can put a bound a hair past p when p is 0 or 1; the interval always holds p)
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def t_interval(mean: float, stderr: float, df: int, *, confidence: float = DEFAULT_CONFIDENCE,
               ) -> tuple[float, float]:
    """``mean ± t_{1-α/2, df} * stderr``."""
    half = t_quantile(1.0 - (1.0 - confidence) / 2.0, df) * stderr
    return mean - half, mean + half


def mean_estimate(scores: Iterable[tuple[Any, float]], *, clusters: Mapping[Any, Any] | None = None,
                  confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """The mean of ``(sample, score)`` pairs (one per epoch) with its clustered SE and interval (module notes).
    ``clusters`` maps a sample to its cluster label; a sample missing from it is a cluster of its own."""
    raw = list(scores)
    binary = is_binary(v for _, v in raw)
    means = sample_means(raw)
    keys = list(means)
    values = [means[k] for k in keys]
    labels = None if clusters is None else [(True, clusters[k]) if k in clusters else (False, k) for k in keys]
    mean, se, groups = clustered_stderr(values, labels)
    ci: tuple[float, float] | None = None
    method = ""
    if mean is not None and groups >= 2 and se is not None:
        if binary:
            method = "wilson"
            one_each = len(raw) == len(keys) and groups == len(keys)
            if one_each:
                m: float = len(keys)
            elif se > 0:
                m = mean * (1.0 - mean) / (se * se) if 0.0 < mean < 1.0 else float(groups)
            else:
                m = float(groups) if mean in (0.0, 1.0) else math.inf
            ci = (mean, mean) if math.isinf(m) else wilson_interval(mean, m, confidence=confidence)
        else:
            method = "t"
            ci = t_interval(mean, se, groups - 1, confidence=confidence)
            if all(0.0 <= v <= 1.0 for _, v in raw):  # a proportion's interval stays within 0 to 1
                ci = (max(0.0, ci[0]), min(1.0, ci[1]))
    return Estimate(n=len(keys), scores=len(raw), clusters=groups, mean=mean, stderr=se, ci=ci, method=method,
                    binary=binary, confidence=confidence)
