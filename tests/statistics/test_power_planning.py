"""Power planning (evaluations/statistics/power.py) against hand-computed cases and statsmodels."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower, TTestPower

from evaluations.statistics.power import (
    DEFAULT_COMPONENTS,
    Components,
    components_from_summary,
    minimum_detectable_difference,
    paired_difference_variance,
    plan,
    samples_needed,
    z_factor,
)


def test_the_z_factor_is_1_96_plus_0_84():
    assert z_factor() == pytest.approx(1.959964 + 0.841621, abs=1e-6)


def test_the_default_binary_half_with_correlation_half_by_hand():
    # Var(d) = 2 * 0.25 * (1 - 0.5) = 0.25, sd 0.5; n = 100: MDD = 2.80158 * 0.5 / 10 = 0.140079
    assert paired_difference_variance(DEFAULT_COMPONENTS, epochs=1) == pytest.approx(0.25)
    assert minimum_detectable_difference(DEFAULT_COMPONENTS, samples=100, epochs=1) == pytest.approx(0.140079, abs=1e-6)
    # 5 points: n = 2.80158^2 * 0.25 / 0.05^2 = 784.9 -> 785
    assert samples_needed(DEFAULT_COMPONENTS, difference=0.05, epochs=1) == 785
    # all the variance is between samples: epochs change nothing
    assert samples_needed(DEFAULT_COMPONENTS, difference=0.05, epochs=5) == 785


def test_epochs_shrink_only_the_within_sample_part_by_hand():
    c = Components(between=0.04, within=0.16, correlation=0.25, source="task_version")
    # Var(d) = 2*0.04*0.75 + 2*0.16/4 = 0.06 + 0.08 = 0.14
    assert paired_difference_variance(c, epochs=4) == pytest.approx(0.14)
    assert paired_difference_variance(c, epochs=1) == pytest.approx(0.06 + 0.32)
    assert minimum_detectable_difference(c, samples=200, epochs=4) == pytest.approx(
        2.801585 * math.sqrt(0.14 / 200), rel=1e-6)


@pytest.mark.parametrize(("between", "within", "rho", "epochs", "n"), [
    (0.25, 0.0, 0.5, 1, 100), (0.1, 0.05, 0.3, 3, 500), (0.2, 0.1, 0.0, 2, 40), (0.05, 0.2, 0.8, 10, 2000)])
def test_the_minimum_detectable_difference_matches_statsmodels_normal_power(between, within, rho, epochs, n):
    c = Components(between=between, within=within, correlation=rho, source="task_version")
    sd = math.sqrt(paired_difference_variance(c, epochs=epochs))
    # one-sample (paired) normal test: ratio=0; statsmodels counts the far tail too, a difference below 1e-4
    effect = NormalIndPower().solve_power(effect_size=None, nobs1=n, alpha=0.05, power=0.8, ratio=0,
                                          alternative="two-sided")
    assert minimum_detectable_difference(c, samples=n, epochs=epochs) == pytest.approx(effect * sd, rel=1e-3)


@pytest.mark.parametrize("delta", [0.02, 0.05, 0.1])
def test_the_samples_needed_match_statsmodels_and_the_t_test_for_large_n(delta):
    c = Components(between=0.2, within=0.1, correlation=0.4, source="task")
    sd = math.sqrt(paired_difference_variance(c, epochs=2))
    normal = NormalIndPower().solve_power(effect_size=delta / sd, nobs1=None, alpha=0.05, power=0.8, ratio=0)
    ours = samples_needed(c, difference=delta, epochs=2)
    assert ours == math.ceil(normal - 1e-6)
    # the paired t test needs at most a couple more samples than the normal approximation
    t = TTestPower().solve_power(effect_size=delta / sd, nobs=None, alpha=0.05, power=0.8)
    assert 0 <= t - ours < 3


def test_the_components_come_from_the_summaries_and_fall_back_to_the_default():
    # variance of sample means at 2 epochs 0.1, within 0.08: between = 0.1 - 0.04 = 0.06; rho = 0.03 / 0.06
    c = components_from_summary(sample_mean_variance=0.1, within=0.08, epochs=2, covariance=0.03, pairs=50,
                                items=3, source="task_version")
    assert (c.between, c.within, c.correlation, c.pairs) == (pytest.approx(0.06), 0.08, pytest.approx(0.5), 50)
    no_pairs = components_from_summary(sample_mean_variance=0.1, within=None, epochs=1, covariance=None, pairs=0,
                                       items=1, source="task")
    assert no_pairs.between == pytest.approx(0.1) and no_pairs.correlation == 0.5 and no_pairs.pairs == 0
    assert components_from_summary(sample_mean_variance=None, within=None, epochs=None, covariance=None, pairs=0,
                                   items=0, source="task") == DEFAULT_COMPONENTS


def test_the_plan_is_in_points_and_says_where_its_variance_came_from():
    result = plan(DEFAULT_COMPONENTS, samples=100, epochs=1, difference_points=5)
    assert result["minimum_detectable_difference"] == 14.01
    assert result["samples_needed"] == 785 and result["source"] == "default"
    assert plan(DEFAULT_COMPONENTS, samples=None, epochs=1)["minimum_detectable_difference"] is None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        samples_needed(DEFAULT_COMPONENTS, difference=0, epochs=1)
    with pytest.raises(ValueError):
        minimum_detectable_difference(DEFAULT_COMPONENTS, samples=0, epochs=1)
