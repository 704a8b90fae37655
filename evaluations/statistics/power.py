"""Power planning for a paired comparison of two models on one evaluation (issue 13; Miller 2024, "Adding error
bars to evals", arXiv 2411.00640, section "Power analysis"). Pure Python: no Django, no SciPy.

The design: both models answer the same ``n`` samples, each ``k`` times (epochs). A sample's score for a model is
the mean of its ``k`` epochs. With the variance components of the evaluation's scores

    sigma_b^2   between samples: the variance of a sample's true (long-run) mean score across samples
    sigma_w^2   within a sample: the variance of one epoch's score around its sample's mean
    rho         the correlation of the two models' true sample means (how far they find the same samples hard)

the variance of one sample's paired difference (model A's mean minus model B's) is

    Var(d) = 2 * sigma_b^2 * (1 - rho) + 2 * sigma_w^2 / k

(epoch noise is independent between the models; more epochs shrink only the within-sample part). The mean
difference over ``n`` samples has standard error ``sqrt(Var(d) / n)``, and with a two-sided test at ``alpha`` the
minimum detectable difference at power ``1 - beta`` (normal approximation) is

    MDD = (z_{1 - alpha/2} + z_{1 - beta}) * sqrt(Var(d) / n)

and the number of samples needed to detect a difference ``delta`` is

    n = ceil((z_{1 - alpha/2} + z_{1 - beta})^2 * Var(d) / delta^2).

A "point" is 0.01 of the score: one percentage point of accuracy for scores in [0, 1].

The components are estimated from earlier items of the same evaluation (``components_from_summary``): each item's
within-sample variance (the mean over samples of the epochs' sample variance) and the variance of its sample means
``s_m^2`` (at ``k0`` epochs), so that ``sigma_b^2 = max(0, s_m^2 - sigma_w^2 / k0)``; ``rho`` is the covariance of
two models' sample means on shared samples divided by ``sigma_b^2`` (within-sample noise adds no covariance).
Where there are none, the stated default ``DEFAULT_COMPONENTS``: a binary score with p = 0.5 (variance 0.25, all
of it between samples, so epochs do not help) and a correlation of 0.5.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

ALPHA = 0.05
POWER = 0.80
POINT = 0.01  # one point of a score on the 0-1 scale
DEFAULT_VARIANCE = 0.25  # a binary score with p = 0.5
DEFAULT_CORRELATION = 0.5
MAX_SAMPLES_NEEDED = 10**9  # beyond this the answer is "more than a billion" (a difference near zero)


@dataclass(frozen=True)
class Components:
    """The variance components of an evaluation's scores (see the module's docstring) and where they came from."""

    between: float
    within: float
    correlation: float
    source: str  # "task_version", "task" (other versions of the same evaluation) or "default"
    items: int = 0  # how many earlier items the variances came from
    pairs: int = 0  # how many shared samples the correlation came from (0: the default correlation)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_COMPONENTS = Components(between=DEFAULT_VARIANCE, within=0.0, correlation=DEFAULT_CORRELATION,
                                source="default")


def z_quantile(p: float) -> float:
    """The standard normal quantile (inverse CDF)."""
    return NormalDist().inv_cdf(p)


def z_factor(*, alpha: float = ALPHA, power: float = POWER) -> float:
    """``z_{1 - alpha/2} + z_{power}``: 1.95996 + 0.84162 = 2.80158 at the defaults."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power lie strictly between 0 and 1")
    return z_quantile(1 - alpha / 2) + z_quantile(power)


def paired_difference_variance(components: Components, *, epochs: int) -> float:
    """``Var(d) = 2 sigma_b^2 (1 - rho) + 2 sigma_w^2 / k`` for one sample's paired difference at ``k`` epochs."""
    if epochs < 1:
        raise ValueError("epochs is 1 or more")
    rho = min(1.0, max(-1.0, components.correlation))
    return 2 * components.between * (1 - rho) + 2 * components.within / epochs


def minimum_detectable_difference(components: Components, *, samples: int, epochs: int, alpha: float = ALPHA,
                                  power: float = POWER) -> float:
    """The smallest true mean difference (in score units) a two-sided paired test at ``alpha`` detects with
    probability ``power`` on ``samples`` samples of ``epochs`` epochs each."""
    if samples < 1:
        raise ValueError("samples is 1 or more")
    return z_factor(alpha=alpha, power=power) * math.sqrt(paired_difference_variance(components, epochs=epochs)
                                                          / samples)


def samples_needed(components: Components, *, difference: float, epochs: int, alpha: float = ALPHA,
                   power: float = POWER) -> int:
    """The number of samples (each run ``epochs`` times by both models) needed to detect ``difference`` (score
    units, > 0) with a two-sided paired test at ``alpha`` and the given ``power``; at least 2."""
    if not difference > 0:
        raise ValueError("difference is above 0")
    variance = paired_difference_variance(components, epochs=epochs)
    if variance == 0:
        return 2
    n = (z_factor(alpha=alpha, power=power) ** 2) * variance / difference**2
    return int(min(MAX_SAMPLES_NEEDED, max(2, math.ceil(n - 1e-9))))


def components_from_summary(*, sample_mean_variance: float | None, within: float | None, epochs: float | None,
                            covariance: float | None, pairs: int, items: int, source: str) -> Components:
    """Variance components from the pooled summaries of earlier items (the selector computes them in SQL):
    ``sample_mean_variance`` = the variance of the sample means at ``epochs`` epochs (mean over items),
    ``within`` = the mean within-sample variance of the epochs (None with one epoch), ``covariance`` = the
    covariance of two models' sample means over ``pairs`` shared samples (None when no pair was seen).
    Falls back to the default for anything not observed."""
    if sample_mean_variance is None or items == 0:
        return DEFAULT_COMPONENTS
    within_value = max(0.0, within or 0.0)
    k0 = max(1.0, epochs or 1.0)
    between = max(0.0, sample_mean_variance - within_value / k0) if within is not None else max(
        0.0, sample_mean_variance)
    if covariance is not None and pairs >= 3 and between > 0:
        correlation = min(1.0, max(-1.0, covariance / between))
    else:
        correlation, pairs = DEFAULT_CORRELATION, 0
    return Components(between=between, within=within_value, correlation=correlation, source=source, items=items,
                      pairs=pairs)


def plan(components: Components, *, samples: int | None, epochs: int, difference_points: float | None = None,
         alpha: float = ALPHA, power: float = POWER) -> dict[str, Any]:
    """One evaluation's plan, JSON-ready (stored with the run): the minimum detectable difference in points at
    the planned ``samples`` (None when the dataset size is not known) and, for a typed difference, the samples
    needed."""
    mdd = (minimum_detectable_difference(components, samples=samples, epochs=epochs, alpha=alpha, power=power)
           if samples else None)
    needed = (samples_needed(components, difference=difference_points * POINT, epochs=epochs, alpha=alpha,
                             power=power) if difference_points else None)
    return {
        "samples": samples, "epochs": epochs, "alpha": alpha, "power": power,
        "minimum_detectable_difference": None if mdd is None else round(mdd / POINT, 2),
        "difference": difference_points, "samples_needed": needed,
        "variance_between": round(components.between, 6), "variance_within": round(components.within, 6),
        "correlation": round(components.correlation, 4), "source": components.source,
        "items": components.items, "pairs": components.pairs,
    }
