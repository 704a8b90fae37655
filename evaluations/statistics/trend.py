"""Regressions over time (issue 13): an item's mean score with a standard error clustered by sample, a trend of
such points, and the one-sided test of a new result against a baseline. Pure Python: no Django, no SciPy.

Clustered mean (Miller 2024, arXiv 2411.00640, "Clustered standard errors"): the epochs of a sample are averaged
first; with ``n`` sample means ``m_i`` the item's score is ``mean = (1/n) sum m_i`` and its standard error
``SE = s_m / sqrt(n)`` where ``s_m^2`` is the sample variance of the ``m_i`` (epochs of one sample are not
independent observations, so they are never counted as samples). The 95 % interval is ``mean +/- 1.96 SE``.

Regression test: a new result ``N`` against the baseline ``B`` (two different items: not paired, the samples may
differ) uses the difference of means ``D = mean_N - mean_B`` with ``SE_D = sqrt(SE_N^2 + SE_B^2)`` and the one-sided
z statistic ``z = D / SE_D``; the p-value for "N is below B" is ``Phi(z)``, significant when below ``alpha`` (0.05).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

ALPHA = 0.05
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    mean: float
    se: float
    n: int  # samples (clusters)

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        z = NormalDist().inv_cdf(0.5 + level / 2)
        return self.mean - z * self.se, self.mean + z * self.se


def estimate_from_summary(*, mean: float, sample_mean_variance: float | None, n: int) -> Estimate:
    """The clustered estimate from SQL summaries: the mean of the sample means, their sample variance, and the
    number of samples (one sample: no spread known, SE 0)."""
    variance = max(0.0, sample_mean_variance or 0.0)
    return Estimate(mean=mean, se=math.sqrt(variance / n) if n > 1 else 0.0, n=n)


def clustered_estimate(scores: Iterable[tuple[str, float]]) -> Estimate:
    """The clustered estimate of ``(sample_id, score)`` pairs (several per sample with epochs)."""
    by_sample: dict[str, list[float]] = {}
    for sample_id, score in scores:
        by_sample.setdefault(sample_id, []).append(score)
    if not by_sample:
        raise ValueError("no scores")
    means = [sum(values) / len(values) for values in by_sample.values()]
    n = len(means)
    mean = sum(means) / n
    variance = sum((m - mean) ** 2 for m in means) / (n - 1) if n > 1 else None
    return estimate_from_summary(mean=mean, sample_mean_variance=variance, n=n)


@dataclass(frozen=True)
class Regression:
    difference: float  # new - baseline
    se: float
    z: float | None
    p_value: float  # one-sided: the chance of a difference this low if the new result were not below the baseline
    significant: bool


def regression_test(*, baseline: Estimate, new: Estimate, alpha: float = ALPHA) -> Regression:
    """Is ``new`` significantly below ``baseline``? One-sided z test on the difference of clustered means."""
    difference = new.mean - baseline.mean
    se = math.sqrt(baseline.se**2 + new.se**2)
    if se == 0:  # no spread at all: below is below, equal is not
        p = 0.0 if difference < 0 else 1.0
        return Regression(difference=difference, se=0.0, z=None, p_value=p, significant=difference < 0)
    z = difference / se
    p = NormalDist().cdf(z)
    return Regression(difference=difference, se=se, z=z, p_value=p, significant=p < alpha)


@dataclass(frozen=True)
class TrendPoint:
    label: str  # e.g. the run's name and date
    estimate: Estimate
    baseline: bool = False
    regression: Regression | None = None


def trend_points(points: Sequence[tuple[str, Estimate]], *, baseline_index: int | None,
                 alpha: float = ALPHA) -> list[TrendPoint]:
    """The trend in time order; each point after the baseline tested against it."""
    base = points[baseline_index][1] if baseline_index is not None else None
    result = []
    for index, (label, estimate) in enumerate(points):
        is_base = index == baseline_index
        regression = (regression_test(baseline=base, new=estimate, alpha=alpha)
                      if base is not None and not is_base else None)
        result.append(TrendPoint(label=label, estimate=estimate, baseline=is_base, regression=regression))
    return result
