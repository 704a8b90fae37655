"""evaluations/statistics against hand-computed cases and against SciPy / statsmodels as the reference:
clustered cases, ties, n = 0 and 1, all-equal scores, McNemar without discordant pairs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from evaluations.statistics.distributions import binomial_half_cdf, t_quantile, t_two_sided_p
from evaluations.statistics.estimates import clustered_stderr, mean_estimate, sample_means, wilson_interval
from evaluations.statistics.multiple import benjamini_hochberg, holm
from evaluations.statistics.paired import bootstrap_interval, mcnemar_exact, paired_compare, pearson

# --- distributions -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 29, 100, 9999])
@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_matches_scipy(p, df):
    assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-8)


@pytest.mark.parametrize("df", [1, 4, 30, 5000])
@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.0, 4.5, 12.0])
def test_t_tail_matches_scipy(t, df):
    assert t_two_sided_p(t, df) == pytest.approx(2 * stats.t.sf(t, df), rel=1e-8, abs=1e-300)


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 5), (2, 10), (7, 20), (480, 1000), (4900, 10000)])
def test_binomial_half_cdf_matches_scipy(k, n):
    assert binomial_half_cdf(k, n) == pytest.approx(stats.binom.cdf(k, n, 0.5), rel=1e-9)


# --- per item ------------------------------------------------------------------------------------------------

def test_epochs_are_averaged_within_a_sample_first():
    assert sample_means([("a", 1.0), ("a", 0.0), ("b", 1.0), ("b", 1.0)]) == {"a": 0.5, "b": 1.0}
    estimate = mean_estimate([("a", 1.0), ("a", 0.0), ("b", 1.0), ("b", 1.0), ("c", 0.0), ("c", 0.0)])
    # by hand: means 0.5, 1, 0 -> mean 0.5; SE² = 3/2 * (0 + .25 + .25) / 9 = 1/12
    assert (estimate.n, estimate.scores, estimate.clusters) == (3, 6, 3)
    assert estimate.mean == pytest.approx(0.5) and estimate.stderr == pytest.approx(math.sqrt(1 / 12))


def test_unclustered_stderr_is_the_sample_standard_error_and_the_t_interval_matches_scipy():
    values = [0.2, 0.9, 0.4, 0.4, 0.75, 0.1, 0.6]  # a tie included
    estimate = mean_estimate(list(enumerate(values)))
    assert estimate.method == "t" and not estimate.binary
    assert estimate.stderr == pytest.approx(stats.sem(values))
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert estimate.ci == pytest.approx((low, high))


def test_clustered_stderr_matches_statsmodels_cluster_robust_ols():
    rng = random.Random(3)
    values = [rng.random() for _ in range(60)]
    groups = [i // 4 for i in range(60)]  # 15 clusters of 4
    mean, se, g = clustered_stderr(values, groups)
    fit = OLS(np.asarray(values), np.ones((60, 1))).fit(cov_type="cluster", cov_kwds={"groups": np.asarray(groups)})
    assert g == 15 and mean == pytest.approx(fit.params[0]) and se == pytest.approx(fit.bse[0])
    # by hand, two clusters {1, 0} and {1, 1}: mean .75, residual sums -.25+.25... = (.25 - .75) and (.25 + .25)
    mean, se, g = clustered_stderr([1.0, 0.0, 1.0, 1.0], ["x", "x", "y", "y"])
    assert (mean, g) == (0.75, 2) and se == pytest.approx(math.sqrt(2 * (0.25 + 0.25) / 16))


def test_a_cluster_field_widens_the_interval_of_correlated_samples():
    scores = [(f"s{i}", float(i // 10 % 2)) for i in range(100)]  # blocks of ten equal scores
    clusters = {f"s{i}": i // 10 for i in range(100)}
    plain, clustered = mean_estimate(scores), mean_estimate(scores, clusters=clusters)
    assert clustered.clusters == 10 and plain.clusters == 100
    assert clustered.ci[1] - clustered.ci[0] > 2 * (plain.ci[1] - plain.ci[0])
    assert clustered.ci[0] >= 0.0 and clustered.ci[1] <= 1.0


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (1, 10), (5, 10), (10, 10), (37, 50), (9990, 10000)])
def test_binary_scores_get_the_wilson_interval_of_statsmodels(successes, n):
    scores = [(i, 1.0 if i < successes else 0.0) for i in range(n)]
    estimate = mean_estimate(scores)
    assert estimate.binary and estimate.method == "wilson"
    assert estimate.ci == pytest.approx(proportion_confint(successes, n, alpha=0.05, method="wilson"))
    assert 0.0 <= estimate.ci[0] <= estimate.mean <= estimate.ci[1] <= 1.0


def test_binary_scores_with_epochs_stay_within_0_and_1():
    scores = [(i, float(epoch == 0 and i < 3)) for i in range(8) for epoch in range(3)]
    estimate = mean_estimate(scores)
    assert estimate.method == "wilson" and estimate.n == 8 and estimate.scores == 24
    assert 0.0 <= estimate.ci[0] < estimate.mean < estimate.ci[1] <= 1.0
    # the effective sample size p(1-p)/SE² carried into Wilson
    m = estimate.mean * (1 - estimate.mean) / estimate.stderr ** 2
    assert estimate.ci == pytest.approx(wilson_interval(estimate.mean, m))


def test_n_0_and_n_1_and_all_equal_scores():
    empty = mean_estimate([])
    assert (empty.n, empty.mean, empty.stderr, empty.ci, empty.method) == (0, None, None, None, "")
    one = mean_estimate([("a", 0.7), ("a", 0.9)])
    assert one.n == 1 and one.mean == pytest.approx(0.8) and one.stderr is None and one.ci is None
    equal = mean_estimate([(i, 0.5) for i in range(5)])
    assert equal.stderr == 0 and equal.ci == pytest.approx((0.5, 0.5))
    all_wrong = mean_estimate([(i, 0.0) for i in range(20)])
    assert all_wrong.ci[0] == 0.0 and all_wrong.ci[1] == pytest.approx(
        proportion_confint(0, 20, method="wilson")[1])


# --- pairs -----------------------------------------------------------------------------------------------------

def test_paired_difference_matches_scipy_ttest_rel_and_pearson():
    rng = random.Random(7)
    a = {i: rng.random() for i in range(40)}
    b = {i: min(1.0, a[i] + rng.gauss(0.05, 0.1)) for i in range(40)}
    b[99] = 1.0  # a sample only B has: not paired
    result = paired_compare(a, b)
    x, y = [a[i] for i in range(40)], [b[i] for i in range(40)]
    reference = stats.ttest_rel(y, x)
    assert result.n == 40 and result.test == "paired-t"
    assert result.difference == pytest.approx(np.mean(np.subtract(y, x)))
    assert result.p_value == pytest.approx(reference.pvalue) and result.t_p_value == result.p_value
    assert result.correlation == pytest.approx(stats.pearsonr(x, y).statistic)
    low, high = reference.confidence_interval(0.95)
    assert result.ci == pytest.approx((low, high))
    # the bootstrap check lands near the t interval, and is the same every time (fixed seed)
    assert result.bootstrap_ci == paired_compare(a, b).bootstrap_ci
    assert abs(result.bootstrap_ci[0] - low) < 0.02 and abs(result.bootstrap_ci[1] - high) < 0.02


def test_paired_difference_by_hand_with_ties():
    result = paired_compare({"a": 1.0, "b": 0.5, "c": 0.5}, {"a": 0.5, "b": 0.5, "c": 0.0})
    # d = -.5, 0, -.5: mean -1/3; SE² = (1/36 + 1/9 + 1/36) / (3 * 2) = 1/36
    assert result.difference == pytest.approx(-1 / 3) and result.stderr == pytest.approx(1 / 6)


def test_clustered_paired_difference_matches_statsmodels():
    rng = random.Random(11)
    a = {i: float(rng.random() < 0.6) for i in range(90)}
    b = {i: float(rng.random() < 0.4) for i in range(90)}
    clusters = {i: i % 9 for i in range(90)}
    result = paired_compare(a, b, clusters=clusters)
    d = np.asarray([b[i] - a[i] for i in range(90)])
    fit = OLS(d, np.ones((90, 1))).fit(cov_type="cluster", cov_kwds={"groups": np.asarray([i % 9 for i in range(90)])})
    assert result.clusters == 9 and result.stderr == pytest.approx(fit.bse[0])
    assert result.test == "paired-t"  # McNemar assumes independent pairs
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(fit.params[0] / fit.bse[0]), 8))


@pytest.mark.parametrize(("only_b", "only_a"), [(0, 0), (1, 0), (3, 9), (10, 10), (40, 61), (700, 800)])
def test_mcnemar_exact_matches_statsmodels(only_b, only_a):
    table = [[5, only_a], [only_b, 5]]
    assert mcnemar_exact(only_b, only_a) == pytest.approx(mcnemar(table, exact=True).pvalue)


def test_binary_pairs_use_mcnemar_and_no_discordant_pair_gives_1():
    a = {i: float(i % 2) for i in range(30)}
    same = paired_compare(a, dict(a))
    assert same.binary and same.test == "mcnemar-exact" and same.p_value == 1.0
    assert (same.only_a, same.only_b, same.difference, same.ci) == (0, 0, 0.0, (0.0, 0.0))
    assert same.correlation == pytest.approx(1.0)
    b = dict.fromkeys(range(30), 1.0)
    better = paired_compare(a, b)
    assert (better.only_b, better.only_a) == (15, 0)
    assert better.p_value == pytest.approx(mcnemar([[15, 0], [15, 0]], exact=True).pvalue)
    assert better.correlation is None  # B does not vary


def test_pairs_with_nothing_shared_or_one_sample():
    none = paired_compare({"a": 1.0}, {"b": 1.0})
    assert (none.n, none.difference, none.p_value, none.ci, none.bootstrap_ci) == (0, None, None, None, None)
    one = paired_compare({"a": 1.0}, {"a": 0.0})
    assert one.n == 1 and one.difference == -1.0 and one.stderr is None and one.ci is None


def test_bootstrap_resamples_clusters_and_both_paths_agree():
    rng = random.Random(5)
    few = [float(rng.choice([-1, 0, 0, 1])) for _ in range(400)]  # few distinct values: the multinomial path
    many = [v + rng.random() * 1e-9 for v in few]  # all distinct: resampled one by one
    a, b = bootstrap_interval(few), bootstrap_interval(many)
    assert a == pytest.approx(b, abs=0.02)
    se = stats.sem(few)
    assert a == pytest.approx((np.mean(few) - 1.96 * se, np.mean(few) + 1.96 * se), abs=0.02)
    assert bootstrap_interval([1.0]) is None


def test_pearson_edge_cases():
    assert pearson([1.0], [2.0]) is None and pearson([1.0, 1.0], [0.0, 1.0]) is None
    assert pearson([0.0, 1.0, 2.0], [2.0, 1.0, 0.0]) == pytest.approx(-1.0)


# --- many comparisons -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("p_values", [
    [0.01, 0.04, 0.03, 0.005], [0.5], [0.02, 0.02, 0.02], [0.001, 0.2, 0.9, 0.04, 0.04, 0.6], [1.0, 0.0],
])
def test_holm_and_bh_match_statsmodels(p_values):
    assert holm(p_values) == pytest.approx(list(multipletests(p_values, method="holm")[1]))
    assert benjamini_hochberg(p_values) == pytest.approx(list(multipletests(p_values, method="fdr_bh")[1]))


def test_adjustments_by_hand_and_none_kept():
    assert holm([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])
    assert benjamini_hochberg([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])
    assert holm([]) == [] and benjamini_hochberg([None]) == [None]


def test_partial_credit_intervals_stay_within_0_and_1():
    estimate = mean_estimate([(0, 1.0), (1, 1.0), (2, 0.5)])
    assert estimate.method == "t" and estimate.ci[1] == 1.0 and 0.0 <= estimate.ci[0] < estimate.mean
    unbounded = mean_estimate([(0, 3.0), (1, 3.0), (2, 1.5)])
    assert unbounded.ci[1] > 3.0  # not a proportion: not clipped
