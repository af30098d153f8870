"""Known answers and properties of lenscore.reports.stats."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lenscore.reports import stats


# ---------------------------------------------------------------------------------------------
# bootstrap CIs
def test_bootstrap_ci_covers_true_mean_at_nominal_rate():
    rng = np.random.default_rng(1)
    covered = 0
    reps = 200
    for i in range(reps):
        x = rng.normal(3.0, 2.0, 30)
        lo, hi = stats.bootstrap_ci(x, n_resamples=1000, seed=i)
        covered += lo <= 3.0 <= hi
    # BCa on n=30 normal data: close to 95 %; allow Monte Carlo noise (sd ~1.5 %)
    assert 0.89 <= covered / reps <= 0.99


def test_bootstrap_ci_matches_scipy_bca():
    from scipy.stats import bootstrap

    rng = np.random.default_rng(2)
    x = rng.lognormal(0, 0.7, 60)
    lo, hi = stats.bootstrap_ci(x, n_resamples=20000, seed=0)
    ref = bootstrap((x,), np.mean, method="BCa", n_resamples=20000, random_state=0)
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert abs(lo - ref.confidence_interval.low) < 0.05 * width
    assert abs(hi - ref.confidence_interval.high) < 0.05 * width


def test_bootstrap_ci_edge_cases():
    assert stats.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    lo, hi = stats.bootstrap_ci([1.0])
    assert math.isnan(lo) and math.isnan(hi)
    lo, hi = stats.bootstrap_ci([])
    assert math.isnan(lo) and math.isnan(hi)
    # NaN and inf are dropped
    a = stats.bootstrap_ci([1.0, 2.0, np.nan, 3.0, np.inf, 4.0], seed=3)
    b = stats.bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=3)
    assert a == pytest.approx(b)
    # reproducible
    x = np.arange(20.0)
    assert stats.bootstrap_ci(x, seed=5) == stats.bootstrap_ci(x, seed=5)
    lo, hi = stats.bootstrap_ci(x, method="percentile", seed=1)
    assert lo < 9.5 < hi
    with pytest.raises(ValueError):
        stats.bootstrap_ci(x, method="studentized")


def test_cluster_bootstrap_is_wider_when_clusters_share_an_effect():
    rng = np.random.default_rng(4)
    prompts = np.repeat(np.arange(12), 5)
    x = rng.normal(0, 1, 12)[prompts] + rng.normal(0, 0.2, prompts.size)
    lo_i, hi_i = stats.bootstrap_ci(x, seed=0)
    lo_c, hi_c = stats.bootstrap_ci(x, seed=0, clusters=prompts)
    assert (hi_c - lo_c) > 1.5 * (hi_i - lo_i)


def test_diff_ci_covers_shift_paired_and_unpaired():
    rng = np.random.default_rng(5)
    a = rng.normal(0, 1, 60)
    b = a * 0.0 + rng.normal(0.8, 1, 60)
    lo, hi = stats.bootstrap_diff_ci(a, b, paired=False, seed=0)
    assert lo <= 0.8 <= hi and lo > 0
    # paired data with a shared per-seed component: the paired CI is much narrower
    seed_effect = rng.normal(0, 3, 60)
    a2 = seed_effect + rng.normal(0, 0.5, 60)
    b2 = seed_effect + 0.8 + rng.normal(0, 0.5, 60)
    lo_p, hi_p = stats.bootstrap_diff_ci(a2, b2, paired=True, seed=0)
    lo_u, hi_u = stats.bootstrap_diff_ci(a2, b2, paired=False, seed=0)
    assert lo_p <= 0.8 <= hi_p and lo_p > 0
    assert (hi_p - lo_p) < 0.5 * (hi_u - lo_u)
    with pytest.raises(ValueError):
        stats.bootstrap_diff_ci([1, 2, 3], [1, 2], paired=True)


# ---------------------------------------------------------------------------------------------
# permutation tests
def test_permutation_pvalue_small_for_a_shift_and_valid_under_the_null():
    rng = np.random.default_rng(6)
    a, b = rng.normal(0, 1, 40), rng.normal(1.0, 1, 40)
    assert stats.permutation_pvalue(a, b, paired=False, seed=0) < 0.01
    assert stats.permutation_pvalue(a, b, paired=True, seed=0) < 0.01
    # under the null, p < 0.05 about 5 % of the time (never much more)
    rejections = {True: 0, False: 0}
    reps = 200
    for i in range(reps):
        x, y = rng.normal(0, 1, 25), rng.normal(0, 1, 25)
        for paired in (True, False):
            rejections[paired] += stats.permutation_pvalue(
                x, y, paired=paired, n_permutations=999, seed=i) < 0.05
    for paired, n in rejections.items():
        assert n / reps <= 0.09, (paired, n)


def test_signflip_exact_small_sample():
    # three positive differences: only the all-plus pattern (and its mirror) is as extreme
    assert stats.signflip_pvalue([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)
    # brute force on 6 values
    d = np.array([0.5, -0.2, 1.1, 0.7, -0.4, 0.9])
    obs = abs(d.mean())
    hits = sum(abs((np.array(s) * d).mean()) >= obs - 1e-12
               for s in itertools.product((-1, 1), repeat=6))
    assert stats.signflip_pvalue(d) == pytest.approx(hits / 64)
    assert math.isnan(stats.signflip_pvalue([1.0]))


def test_shuffle_pvalue_never_zero_and_nan_for_tiny_samples():
    p = stats.shuffle_pvalue(np.zeros(30), np.ones(30) * 5, n_permutations=200, seed=0)
    assert p == pytest.approx(1 / 201)
    assert math.isnan(stats.shuffle_pvalue([1.0], [2.0, 3.0]))


# ---------------------------------------------------------------------------------------------
# Holm, effect sizes
def test_holm_hand_example():
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    p = [0.01, 0.04, 0.03, 0.005]
    assert stats.holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # NaN entries do not count toward m and stay NaN
    out = stats.holm([0.01, np.nan, 0.02])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)
    # capped at 1
    assert stats.holm([0.6, 0.7]).tolist() == [1.0, 1.0]
    assert stats.holm([]).size == 0


def test_cliffs_delta_known_values_and_brute_force():
    assert stats.cliffs_delta([1, 2, 3], [4, 5, 6]) == 1.0
    assert stats.cliffs_delta([4, 5, 6], [1, 2, 3]) == -1.0
    assert stats.cliffs_delta([1, 2, 3], [1, 2, 3]) == 0.0
    assert stats.cliffs_delta([1, 2, 3], [2, 3, 4]) == pytest.approx(5 / 9)
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 5, 23), rng.integers(0, 5, 17)  # many ties
    brute = np.mean(np.sign(b[None, :] - a[:, None]))
    assert stats.cliffs_delta(a, b) == pytest.approx(brute)
    assert math.isnan(stats.cliffs_delta([], [1.0]))


def test_win_rate_is_direction_aware():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([2.0, 3.0, 3.0, 3.0])  # wins, wins, tie, loss
    assert stats.win_rate(a, b, paired=True, direction="higher") == pytest.approx(2.5 / 4)
    assert stats.win_rate(a, b, paired=True, direction="lower") == pytest.approx(1.5 / 4)
    assert stats.win_rate([0, 0], [1, 1], paired=False) == 1.0
    assert stats.win_rate([0, 0], [1, 1], paired=False, direction="lower") == 0.0


# ---------------------------------------------------------------------------------------------
# power
def test_required_n_matches_textbook_values():
    # two-sample t test, d = 0.5, alpha .05, power .8: 64 per group (Cohen 1988, table 2.4.1)
    assert stats.required_n(1.0, 0.5, paired=False) == 64
    # paired, d_z = 0.5: 34 pairs
    assert stats.required_n(1.0, 0.5, paired=True) == 34
    # scale invariance and monotonicity
    assert stats.required_n(10.0, 5.0, paired=False) == 64
    assert stats.required_n(1.0, 0.25, paired=False) > stats.required_n(1.0, 0.5, paired=False)
    assert stats.required_n(1.0, 0.5, paired=False, alpha=0.01) > 64
    assert stats.required_n(1.0, 0.0, paired=False) is None
    assert stats.required_n(0.0, 0.5, paired=False) == 2


def test_min_detectable_effect_inverts_required_n():
    n = stats.required_n(2.0, 1.0, paired=False)
    mde = stats.min_detectable_effect(2.0, n, n, paired=False)
    assert mde <= 1.0 < stats.min_detectable_effect(2.0, n - 1, n - 1, paired=False) * 1.05
    assert math.isnan(stats.min_detectable_effect(1.0, 1, paired=True))


# ---------------------------------------------------------------------------------------------
# verdict
@pytest.mark.parametrize("direction,diff,ci,expected", [
    ("higher", 0.3, (0.1, 0.5), "better"),
    ("higher", -0.3, (-0.5, -0.1), "worse"),
    ("lower", -0.3, (-0.5, -0.1), "better"),   # lower is better and it went down
    ("lower", 0.3, (0.1, 0.5), "worse"),
    ("neither", 0.3, (0.1, 0.5), "differs"),
    ("higher", 0.3, (-0.1, 0.7), "no detectable difference"),  # CI includes 0
])
def test_verdict_direction_aware(direction, diff, ci, expected):
    assert stats.verdict(diff, ci, 0.01, direction=direction) == expected


def test_verdict_needs_the_holm_p_too():
    assert stats.verdict(0.3, (0.1, 0.5), 0.2, direction="higher") == stats.NO_DIFFERENCE
    assert stats.verdict(0.3, (math.nan, math.nan), math.nan,
                         direction="higher") == stats.NOT_ENOUGH
