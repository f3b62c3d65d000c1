"""DeLong's AUC variance and paired test: against the O(m n) definition, a bootstrap,
scikit-learn's AUC and the Hanley-McNeil formula; ties count one half."""

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from kfold.errors import KfError
from kfold.stats import (
    auc_interval,
    delong_covariance,
    hanley_mcneil_se,
    paired_difference,
)


def scores(n=1500, prevalence=0.2, shift=1.0, seed=0, k=1, shared=0.7):
    """k correlated binormal scorings of the same rows (shared noise -> paired runs)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    common = rng.normal(size=n)
    out = [y * shift + shared * common + np.sqrt(1 - shared**2) * rng.normal(size=n)
           for _ in range(k)]
    return y, np.array(out)


def naive_delong(y, s):
    """The 1988 definition: psi over every positive/negative pair, O(m n)."""
    y = np.asarray(y).astype(bool)
    aucs, v10s, v01s = [], [], []
    for row in s:
        psi = (row[y][:, None] > row[~y][None, :]) + 0.5 * (row[y][:, None] == row[~y][None, :])
        aucs.append(psi.mean())
        v10s.append(psi.mean(axis=1))
        v01s.append(psi.mean(axis=0))
    m, n = y.sum(), (~y).sum()
    return np.array(aucs), np.cov(np.array(v10s)) / m + np.cov(np.array(v01s)) / n


def bootstrap_aucs(y, s, n_boot=2000, seed=2):
    """AUCs of each row of `s` on `n_boot` stratified resamples (rank-sum formula, checked
    against scikit-learn below); shape (n_boot, k)."""
    y = np.asarray(y).astype(bool)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    m, n = len(pos), len(neg)
    idx = np.hstack([rng.choice(pos, (n_boot, m)), rng.choice(neg, (n_boot, n))])
    out = []
    for row in np.atleast_2d(s):
        ranks = rankdata(row[idx], axis=1)
        out.append((ranks[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n))
    return np.array(out).T


def test_bootstrap_helper_equals_sklearn_on_one_resample():
    y, s = scores(n=500)
    a = bootstrap_aucs(y, s, n_boot=1, seed=9)[0, 0]
    rng = np.random.default_rng(9)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    idx = np.hstack([rng.choice(pos, (1, len(pos))), rng.choice(neg, (1, len(neg)))])[0]
    assert a == pytest.approx(roc_auc_score(y[idx], s[0][idx]), abs=1e-12)


def test_fast_delong_equals_the_pairwise_definition_with_and_without_ties():
    y, s = scores(n=300, k=3)
    for rows in (s, np.round(s, 1)):  # rounding makes many ties, also across classes
        aucs, cov = delong_covariance(y, rows)
        ref_aucs, ref_cov = naive_delong(y, rows)
        np.testing.assert_allclose(aucs, ref_aucs, atol=1e-12)
        np.testing.assert_allclose(cov, ref_cov, atol=1e-12)


def test_auc_equals_sklearn_including_ties():
    y, s = scores(n=2000)
    for row in (s[0], np.round(s[0], 1), np.round(s[0])):
        assert auc_interval(y, row).auc == pytest.approx(roc_auc_score(y, row), abs=1e-12)


def test_constant_scores_give_auc_one_half():
    y, _ = scores(n=200)
    iv = auc_interval(y, np.full(len(y), 0.3))
    assert iv.auc == 0.5 and iv.se == 0.0


def test_interval_agrees_with_a_stratified_bootstrap():
    """DeLong's SE within 10% of a 2,000-resample bootstrap SE (its own noise is ~2%)."""
    y, s = scores(n=1500, seed=1)
    iv = auc_interval(y, s[0])
    boot = bootstrap_aucs(y, s)[:, 0]
    assert iv.se == pytest.approx(np.std(boot, ddof=1), rel=0.10)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    assert abs(iv.low - lo) < 0.01 and abs(iv.high - hi) < 0.01
    assert iv.low < iv.auc < iv.high


def test_paired_difference_agrees_with_a_paired_bootstrap():
    y, s = scores(n=1500, k=2, seed=3, shared=0.8)
    s[1] += 0.25 * y  # the second run is slightly better
    d = paired_difference(y, s[1], s[0])
    boot = bootstrap_aucs(y, s, seed=4)
    diffs = boot[:, 1] - boot[:, 0]
    assert d.diff == pytest.approx(roc_auc_score(y, s[1]) - roc_auc_score(y, s[0]), abs=1e-12)
    assert d.se == pytest.approx(np.std(diffs, ddof=1), rel=0.10)
    assert 0 < d.correlation < 1  # shared noise: the two AUCs move together
    # pairing matters: the unpaired SE would be much larger than the paired one
    unpaired = np.hypot(auc_interval(y, s[0]).se, auc_interval(y, s[1]).se)
    assert d.se < 0.8 * unpaired


def test_paired_test_separates_noise_from_a_real_gain():
    y, s = scores(n=3000, k=2, seed=5, shared=0.9)
    same = paired_difference(y, s[0], s[0])
    assert (same.diff, same.se, same.p_value, same.within_noise) == (0.0, 0.0, 1.0, True)
    tiny = paired_difference(y, s[0] + 1e-3 * np.random.default_rng(6).normal(size=len(y)), s[0])
    assert tiny.within_noise and tiny.p_value > 0.05
    better = paired_difference(y, s[0] + 0.5 * y, s[0])
    assert not better.within_noise and better.p_value < 1e-6 and better.low > 0


def test_p_value_is_uniform_under_the_null():
    """Two independent scorings of equal quality: about 5% of tests reject at 0.05."""
    rejections = 0
    for seed in range(200):
        y, s = scores(n=400, k=2, seed=100 + seed, shared=0.5)
        rejections += paired_difference(y, s[0], s[1]).p_value < 0.05
    assert 3 <= rejections <= 20


def test_hanley_mcneil_cross_check():
    y, s = scores(n=3000, seed=7)
    iv = auc_interval(y, s[0])
    assert hanley_mcneil_se(iv.auc, iv.n_pos, iv.n_neg) == pytest.approx(iv.se, rel=0.2)


def test_interval_is_clipped_to_the_unit_range():
    y = np.array([0] * 20 + [1] * 5)
    iv = auc_interval(y, y + np.linspace(0, 0.1, 25))
    assert iv.auc == 1.0 and iv.high == 1.0 and iv.low <= 1.0


@pytest.mark.parametrize("y, s, match", [
    (np.ones(5), np.linspace(0, 1, 5), "both classes"),
    (np.array([0, 1, 0, 1]), np.array([0.1, np.nan, 0.2, 0.3]), "NaN"),
    (np.array([0, 1, 0]), np.array([0.1, 0.2]), "pair up"),
    (np.array([0, 2, 1]), np.array([0.1, 0.2, 0.3]), "0/1"),
])
def test_bad_input_is_refused(y, s, match):
    with pytest.raises(KfError, match=match):
        auc_interval(y, s)


def test_level_outside_unit_interval_is_refused():
    y, s = scores(n=100)
    with pytest.raises(KfError, match="outside"):
        auc_interval(y, s[0], level=1.5)


def test_identical_or_both_perfect_scorings_are_no_difference():
    y, s = scores(n=300)
    same = paired_difference(y, s[0], s[0])
    assert (same.diff, same.se, same.p_value, same.within_noise) == (0.0, 0.0, 1.0, True)
    perfect = paired_difference(y, y + 0.1 * s[0], 2.0 * y + s[0] * 0.01)  # both AUC 1
    assert perfect.p_value == 1.0 and perfect.within_noise


def test_constant_scores_against_a_real_run_are_tested_not_crashed():
    y, s = scores(n=400, shift=1.5)
    d = paired_difference(y, s[0], np.full(len(y), 0.3))
    assert d.diff > 0.2 and 0 < d.se and d.p_value < 1e-6 and not d.within_noise
    assert -1.0 <= d.low <= d.high <= 1.0


def test_a_single_positive_gives_no_interval_and_no_false_significance():
    y = np.array([0, 0, 0, 0, 1])
    iv = auc_interval(y, [0.1, 0.2, 0.3, 0.9, 0.5])
    assert iv.auc == 0.75 and np.isnan(iv.se) and (iv.low, iv.high) == (0.0, 1.0)
    d = paired_difference(y, [0.1, 0.2, 0.3, 0.9, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert d.diff == -0.25 and np.isnan(d.p_value) and (d.low, d.high) == (-1.0, 1.0)
    assert d.within_noise
