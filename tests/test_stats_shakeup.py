"""Shake-up simulation: exact split AUCs, known answers, and agreement with DeLong."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from kfold.errors import KfError
from kfold.stats import auc_interval
from kfold.stats.shakeup import PRIVATE, PUBLIC, _codes, simulate, split_aucs


def data(n=2000, k=3, prevalence=0.2, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    preds = np.column_stack([1 / (1 + np.exp(-(y * 1.2 + rng.normal(size=n)))) for _ in range(k)])
    return y, preds


def stratified_codes(y, n_splits, k_pub, k_priv, seed=1):
    rng = np.random.default_rng(seed)
    codes = np.zeros((n_splits, len(y)), dtype=np.int8)
    for cls, (a, b) in ((1, k_pub), (0, k_priv)):
        codes[:, y == cls] = _codes(rng, int((y == cls).sum()), n_splits, a, b)
    return codes


@pytest.mark.parametrize("rounding", [None, 1])  # rounded scores: many ties across classes
@pytest.mark.parametrize("leave_out", [False, True])  # a test set smaller than the OOF rows
def test_split_aucs_equal_sklearn_on_every_split(rounding, leave_out):
    y, preds = data(n=400)
    if rounding:
        preds = np.round(preds, rounding)
    m, n = int(y.sum()), int((1 - y).sum())
    pub = (m // 3, n // 3)
    priv = ((m - pub[0]) // (2 if leave_out else 1), (n - pub[1]) // (2 if leave_out else 1))
    codes = stratified_codes(y, 12, (pub[0], priv[0]), (pub[1], priv[1]))
    public, private = split_aucs(y, preds, codes)
    for s in range(len(codes)):
        for j in range(preds.shape[1]):
            for code, got in ((PUBLIC, public), (PRIVATE, private)):
                rows = codes[s] == code
                assert got[s, j] == pytest.approx(roc_auc_score(y[rows], preds[rows, j]),
                                                  abs=1e-12)


def test_codes_draw_exact_sizes_uniformly():
    codes = _codes(np.random.default_rng(0), 50, 4000, 10, 30)
    assert ((codes == PUBLIC).sum(axis=1) == 10).all() and ((codes == PRIVATE).sum(axis=1) == 30).all()
    share = (codes == PUBLIC).mean(axis=0)  # every row equally likely to be public
    assert np.abs(share - 0.2).max() < 0.04


def test_identical_runs_tie_and_never_disagree():
    y, preds = data(k=1)
    s = simulate(y, np.hstack([preds, preds]), ["a", "b"], n_splits=300)
    assert s.p_beats().tolist() == [0.5, 0.5]
    assert s.rank_disagreement() == 0.0 and s.top_disagreement() == 0.0
    assert s.pair_disagreement() == 0.0
    assert s.p_private_top().tolist() == [0.5, 0.5]


def test_a_run_better_on_every_image_always_wins():
    y, preds = data(k=1)
    better = np.where(y == 1, 1.0, 0.0) * 0.5 + preds[:, 0] * 0.5  # every positive moves up
    s = simulate(y, np.column_stack([preds[:, 0], better]), ["base", "better"], n_splits=300)
    assert s.best == 1
    assert s.p_beats(reference=0)[1] == 1.0
    assert s.p_beats()[0] == 0.0
    assert s.p_private_top()[1] == 1.0
    assert s.rank_disagreement() == s.pair_disagreement() == 0.0


def test_public_spread_matches_delong_with_finite_population_correction():
    """A public part of f of the rows, drawn without replacement, has the AUC variance of a
    sample of that size times (1 - f): DeLong's SE on a random public-sized subset."""
    y, preds = data(n=6000, k=1, seed=3)
    f = 0.3
    s = simulate(y, preds, public_fraction=f, n_splits=2000)
    rows = np.random.default_rng(4).permutation(len(y))[: s.n_public]
    expected = auc_interval(y[rows], preds[rows, 0]).se * np.sqrt(1 - f)
    assert s.public[:, 0].std() == pytest.approx(expected, rel=0.15)
    assert s.public[:, 0].mean() == pytest.approx(s.auc[0], abs=2e-3)
    assert s.n_public + s.n_private == len(y)


def test_a_smaller_test_set_scatters_more():
    y, preds = data(n=6000, k=2, seed=5)
    whole = simulate(y, preds, n_splits=500)
    small = simulate(y, preds, n_splits=500, test_rows=1500)
    assert small.n_public + small.n_private == 1500
    assert small.private[:, 0].std() > 1.5 * whole.private[:, 0].std()
    assert small.expected_gap()[0] > whole.expected_gap()[0]


def test_close_runs_swap_places_often():
    y, preds = data(n=3000, k=3, seed=6)
    s = simulate(y, preds, n_splits=500)
    assert 0.05 < s.rank_disagreement() <= 1.0
    assert 0 < s.pair_disagreement() < s.rank_disagreement()
    assert np.all((s.p_beats() > 0) & (s.p_beats() < 1))
    assert s.p_private_top().sum() == pytest.approx(1.0)
    lo_hi = s.interval("private")
    assert np.all(lo_hi[:, 0] < s.auc) and np.all(s.auc < lo_hi[:, 1])


def test_same_seed_same_answer():
    y, preds = data(n=500)
    a, b = simulate(y, preds, n_splits=50, seed=7), simulate(y, preds, n_splits=50, seed=7)
    assert np.array_equal(a.public, b.public) and np.array_equal(a.private, b.private)


@pytest.mark.parametrize("fraction", [0, 1, -0.2, 1.5, float("nan")])
def test_public_fraction_outside_unit_interval_is_refused(fraction):
    y, preds = data(n=200)
    with pytest.raises(KfError, match=r"outside \(0, 1\)"):
        simulate(y, preds, public_fraction=fraction)


def test_bad_inputs_are_refused():
    y, preds = data(n=200)
    with pytest.raises(KfError, match="NaN"):
        simulate(y, np.where(np.arange(200)[:, None] == 3, np.nan, preds))
    with pytest.raises(KfError, match="0/1"):
        simulate(y * 2, preds)
    with pytest.raises(KfError, match="both classes"):
        simulate(np.zeros(200, int), preds)
    with pytest.raises(KfError, match="both classes"):
        simulate(y, preds, public_fraction=0.001)
    with pytest.raises(KfError, match="at least one split"):
        simulate(y, preds, n_splits=0)
    with pytest.raises(KfError, match="at most 100,000 splits"):
        simulate(y, preds, n_splits=10**9)


# --- any contest metric --------------------------------------------------------------------
def _multiclass(n=400, runs=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    outs = []
    for j in range(runs):
        z = 2.0 * np.eye(4)[y] * (j + 1) / runs + rng.normal(size=(n, 4))
        e = np.exp(z)
        outs.append(e / e.sum(axis=1, keepdims=True))
    return y, outs


@pytest.mark.parametrize("name", ["logloss", "accuracy", "error"])
def test_row_mean_metrics_score_every_split_as_the_metric_does(name):
    from kfold.scoring import get_metric
    from kfold.stats.shakeup import PRIVATE, PUBLIC, _codes, simulate_metric

    y, outs = _multiclass()
    metric = get_metric(name)
    sim = simulate_metric(y, outs, ["a", "b", "c"], metric, public_fraction=0.3, n_splits=20,
                          test_rows=300, seed=4)
    codes = _codes(np.random.default_rng(4), len(y), 20, 90, 210)  # the same draws
    for s in (0, 19):
        for j, o in enumerate(outs):
            pub, priv = codes[s] == PUBLIC, codes[s] == PRIVATE
            assert sim.public[s, j] == pytest.approx(metric.score(y[pub], o[pub]), abs=1e-12)
            assert sim.private[s, j] == pytest.approx(metric.score(y[priv], o[priv]), abs=1e-12)
    assert (sim.n_public, sim.n_private) == (90, 210)


def test_a_lower_is_better_metric_ranks_and_compares_runs_downwards():
    from kfold.scoring import get_metric
    from kfold.stats.shakeup import simulate_metric

    y, outs = _multiclass(n=2000)
    sim = simulate_metric(y, outs, ["weak", "mid", "strong"], get_metric("logloss"),
                          n_splits=200, seed=1)
    assert not sim.higher_is_better and sim.names[sim.best] == "strong"
    assert sim.auc[2] < sim.auc[0]  # the lowest log loss is the best
    assert sim.p_private_top()[2] > 0.9 and sim.p_beats()[0] < 0.1


def test_a_metric_that_is_not_a_row_mean_is_scored_split_by_split():
    from kfold.scoring import get_metric
    from kfold.stats.shakeup import simulate_metric

    y, outs = _multiclass(n=300)
    metric = get_metric("f1-macro")
    sim = simulate_metric(y, outs, ["a", "b", "c"], metric, n_splits=5, seed=0)
    assert sim.public.shape == (5, 3) and np.isfinite(sim.private).all()
    assert sim.auc[2] == pytest.approx(metric.score(y, outs[2]))


def test_splits_stratified_by_class_keep_each_classs_share_in_both_parts():
    from kfold.scoring import get_metric
    from kfold.stats.shakeup import PRIVATE, PUBLIC, _group_codes, simulate_metric

    y, outs = _multiclass(n=1000)
    groups = [np.flatnonzero(y == c) for c in range(4)]
    sizes = [(round(0.3 * len(g)), len(g) - round(0.3 * len(g))) for g in groups]
    codes = _group_codes(np.random.default_rng(0), len(y), 30, groups, sizes)
    for g, (k_pub, k_priv) in zip(groups, sizes):
        assert ((codes[:, g] == PUBLIC).sum(axis=1) == k_pub).all()
        assert ((codes[:, g] == PRIVATE).sum(axis=1) == k_priv).all()
    sim = simulate_metric(y, outs, ["a", "b", "c"], get_metric("f1-macro"), n_splits=5,
                          strata=y)
    assert sim.n_public + sim.n_private == 1000 and np.isfinite(sim.public).all()
