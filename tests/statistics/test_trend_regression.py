"""Trends and the regression test (evaluations/statistics/trend.py) against hand-computed cases and SciPy."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from evaluations.statistics.trend import (
    Estimate,
    clustered_estimate,
    estimate_from_summary,
    regression_test,
    trend_points,
)


def test_epochs_are_averaged_within_a_sample_before_the_standard_error():
    # sample means 1, 0.5, 0: mean 0.5, variance 0.25, SE = 0.5 / sqrt(3)
    e = clustered_estimate([("a", 1), ("a", 1), ("b", 1), ("b", 0), ("c", 0), ("c", 0)])
    assert e.mean == pytest.approx(0.5) and e.n == 3
    assert e.se == pytest.approx(0.5 / math.sqrt(3))
    assert e.se == pytest.approx(stats.sem([1, 0.5, 0]))
    low, high = e.interval()
    assert (low, high) == pytest.approx(stats.norm.interval(0.95, loc=0.5, scale=e.se))


def test_one_sample_has_no_spread():
    assert estimate_from_summary(mean=1.0, sample_mean_variance=None, n=1).se == 0


def test_a_lower_result_is_significant_and_an_equal_one_is_not():
    base = Estimate(mean=0.8, se=0.02, n=400)
    lower = regression_test(baseline=base, new=Estimate(mean=0.7, se=0.023, n=400))
    se = math.sqrt(0.02**2 + 0.023**2)
    assert lower.difference == pytest.approx(-0.1) and lower.se == pytest.approx(se)
    assert lower.p_value == pytest.approx(stats.norm.cdf(-0.1 / se)) and lower.significant
    equal = regression_test(baseline=base, new=Estimate(mean=0.8, se=0.02, n=400))
    assert equal.p_value == pytest.approx(0.5) and not equal.significant
    # a small dip inside the noise is not significant
    assert not regression_test(baseline=base, new=Estimate(mean=0.78, se=0.02, n=400)).significant


def test_the_z_test_matches_statsmodels_one_sided_ztest_on_raw_scores():
    from statsmodels.stats.weightstats import ztest

    a = [1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0]
    b = [1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0]
    ea = clustered_estimate([(str(i), v) for i, v in enumerate(a)])
    eb = clustered_estimate([(str(i), v) for i, v in enumerate(b)])
    ours = regression_test(baseline=ea, new=eb)
    _, p = ztest(b, a, alternative="smaller", usevar="unequal")
    assert ours.p_value == pytest.approx(p, rel=1e-9)


def test_no_spread_below_is_below():
    base = Estimate(mean=1.0, se=0.0, n=5)
    assert regression_test(baseline=base, new=Estimate(mean=0.8, se=0.0, n=5)).significant
    assert not regression_test(baseline=base, new=Estimate(mean=1.0, se=0.0, n=5)).significant


def test_each_point_is_tested_against_the_baseline():
    points = [("r1", Estimate(0.8, 0.01, 100)), ("r2", Estimate(0.8, 0.01, 100)), ("r3", Estimate(0.6, 0.01, 100))]
    trend = trend_points(points, baseline_index=0)
    assert trend[0].baseline and trend[0].regression is None
    assert not trend[1].regression.significant and trend[2].regression.significant
    assert all(p.regression is None for p in trend_points(points, baseline_index=None))
