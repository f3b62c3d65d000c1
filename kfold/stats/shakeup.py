"""Shake-up simulation: how public and private AUCs of several runs scatter when a test set
like the OOF rows is split into a public and a private part at random.

Kaggle scores submissions on a public share of the test ids during the contest and on the
rest (private) at the end; with a few thousand test images the two AUCs of the same file
differ by chance, and so can the order of two files. Each simulated split draws, from the
OOF rows, a stratified public set and a disjoint private set of the competition's sizes;
every run is scored on both.

Speed: a run's AUC on a subset is its Mann-Whitney U over the subset's pairs. With the
negatives sorted once per run and, for each positive, the number of negatives below it
(`lo`) and at or below it (`hi`), the U of a subset is sum over its positives of
(C[lo] + C[hi]) / 2, where C is the running count of the subset's negatives in that sorted
order. One gather, one cumulative sum and one gather per run and batch of splits: no
sorting inside the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from kfold.errors import KfError
from kfold.scoring import Metric
from kfold.stats.rowmean import from_mean, row_losses

MAX_SPLITS = 100_000  # ~7 minutes at 20 runs x 35,000 rows; the results take 32 MB per run
_BATCH_ELEMENTS = 4_000_000  # rows x splits per batch: ~16 MB of int32 counts


def check_fraction(public_fraction: float) -> float:
    f = float(public_fraction)
    if not 0 < f < 1:
        raise KfError(f"public fraction {public_fraction} is outside (0, 1); Kaggle scores "
                      f"a share such as 0.3 of the test set publicly")
    return f


@dataclass(frozen=True)
class Shakeup:
    """Public and private scores (AUCs, or the contest metric's) of `k` runs over
    `n_splits` simulated splits; `higher_is_better` is the metric's direction."""

    names: list[str]
    auc: np.ndarray  # (k,) on all rows: the AUC, or the contest metric's score
    public: np.ndarray  # (n_splits, k)
    private: np.ndarray  # (n_splits, k)
    public_fraction: float
    n_public: int  # rows in each public set
    n_private: int
    higher_is_better: bool = True

    @property
    def sign(self) -> int:
        """+1 when higher scores are better, else -1: sign * score is "goodness"."""
        return 1 if self.higher_is_better else -1

    @property
    def best(self) -> int:
        """Index of the run with the best score on all rows (the one the others are held to)."""
        return int(np.argmax(self.sign * self.auc))

    def p_beats(self, reference: int | None = None) -> np.ndarray:
        """P(run's private score is better than reference's); an exact tie counts one half."""
        good = self.sign * self.private
        ref = good[:, self.best if reference is None else reference][:, None]
        return (good > ref).mean(axis=0) + 0.5 * (good == ref).mean(axis=0)

    def p_private_top(self) -> np.ndarray:
        """Share of splits where the run has the best private score (ties share it)."""
        good = self.sign * self.private
        top = good == good.max(axis=1, keepdims=True)
        return (top / top.sum(axis=1, keepdims=True)).mean(axis=0)

    def expected_gap(self) -> np.ndarray:
        """Mean |public - private| score per run."""
        return np.abs(self.public - self.private).mean(axis=0)

    def rank_disagreement(self) -> float:
        """Share of splits where ordering the runs by public AUC differs from ordering them
        by private AUC (ties are an order too: two identical runs always agree)."""
        if len(self.names) < 2:
            return 0.0
        pub = rankdata(self.public, axis=1)
        priv = rankdata(self.private, axis=1)
        return float((pub != priv).any(axis=1).mean())

    def pair_disagreement(self) -> float:
        """Share of run pairs, over all splits, that public AUC orders differently from private
        AUC (a tie is an order). With many runs some pair almost always swaps, so this says
        how much of the ranking moves where `rank_disagreement` only says whether it does."""
        if len(self.names) < 2:
            return 0.0
        i, j = np.triu_indices(len(self.names), 1)
        pub = np.sign(self.public[:, i] - self.public[:, j])
        return float((pub != np.sign(self.private[:, i] - self.private[:, j])).mean())

    def top_disagreement(self) -> float:
        """Share of splits where the best public run is not a best private run."""
        pub_top = np.argmax(self.sign * self.public, axis=1)
        good = self.sign * self.private
        return float((good[np.arange(len(pub_top)), pub_top] < good.max(axis=1)).mean())

    def interval(self, which: str = "private", level: float = 0.95) -> np.ndarray:
        """(k, 2) central interval of the simulated public or private AUCs."""
        values = self.public if which == "public" else self.private
        tail = (1 - level) / 2 * 100
        return np.percentile(values, [tail, 100 - tail], axis=0).T


PUBLIC, PRIVATE = 1, 2  # codes of a row in one split; 0: not in the simulated test set


@dataclass(frozen=True)
class _Ranked:
    """One run's scores in the form the batched U statistic needs."""

    neg_order: np.ndarray  # negatives by ascending score
    pos_order: np.ndarray  # positives by ascending score
    lo: np.ndarray  # per positive in pos_order: negatives strictly below it
    hi: np.ndarray  # per positive in pos_order: negatives at or below it
    ties: bool  # some positive ties with some negative

    @property
    def auc(self) -> float:
        return float((self.lo.sum() + self.hi.sum()) / (2.0 * len(self.lo) * len(self.neg_order)))


def _prepare(pos: np.ndarray, neg: np.ndarray) -> _Ranked:
    neg_order = np.argsort(neg, kind="stable").astype(np.int32)
    pos_order = np.argsort(pos, kind="stable").astype(np.int32)
    sorted_neg = neg[neg_order]
    lo = np.searchsorted(sorted_neg, pos[pos_order], side="left").astype(np.int32)
    hi = np.searchsorted(sorted_neg, pos[pos_order], side="right").astype(np.int32)
    return _Ranked(neg_order, pos_order, lo, hi, bool((lo != hi).any()))


def _codes(rng: np.random.Generator, n_rows: int, n_splits: int, k_pub: int,
           k_priv: int) -> np.ndarray:
    """(n_splits, n_rows) int8: in each split exactly k_pub >= 1 rows PUBLIC and k_priv >= 1
    rows PRIVATE, uniformly at random (float64 keys: ties have probability ~0)."""
    keys = rng.random((n_splits, n_rows))
    kth = [k_pub - 1] if k_pub + k_priv == n_rows else [k_pub - 1, k_pub + k_priv - 1]
    idx = np.argpartition(keys, kth, axis=1)
    codes = np.zeros((n_splits, n_rows), dtype=np.int8)
    np.put_along_axis(codes, idx[:, :k_pub], PUBLIC, axis=1)
    np.put_along_axis(codes, idx[:, k_pub:k_pub + k_priv], PRIVATE, axis=1)
    return codes


class _Batch:
    """One batch of splits, scored run by run with reused buffers."""

    def __init__(self, pos_codes: np.ndarray, neg_codes: np.ndarray, dtype) -> None:
        self.pos_codes, self.neg_codes, self.dtype = pos_codes, neg_codes, dtype
        self.rest_is_private = not (neg_codes == 0).any()
        b, n = neg_codes.shape
        self.below_pub = np.zeros((b, n + 1), dtype)
        self.below_priv = None if self.rest_is_private else np.zeros((b, n + 1), dtype)

    def u_statistics(self, run: _Ranked) -> tuple[np.ndarray, np.ndarray]:
        """Mann-Whitney U of `run` on the public and on the private rows of every split:
        the sum over the part's positives of the part's negatives below them (ties: half)."""
        codes = np.take(self.neg_codes, run.neg_order, axis=1)
        self.below_pub[:, 1:] = codes == PUBLIC
        np.add.accumulate(self.below_pub, axis=1, out=self.below_pub)
        if self.below_priv is not None:
            self.below_priv[:, 1:] = codes == PRIVATE
            np.add.accumulate(self.below_priv, axis=1, out=self.below_priv)
        pos = np.take(self.pos_codes, run.pos_order, axis=1)
        is_pub, is_priv = (pos == PUBLIC).astype(self.dtype), (pos == PRIVATE).astype(self.dtype)
        u_pub, u_priv = self._sums(run.lo, is_pub, is_priv)
        if run.ties:
            hi_pub, hi_priv = self._sums(run.hi, is_pub, is_priv)
            return (u_pub + hi_pub) / 2, (u_priv + hi_priv) / 2
        return u_pub.astype(float), u_priv.astype(float)

    def _sums(self, idx, is_pub, is_priv) -> tuple[np.ndarray, np.ndarray]:
        pub = np.take(self.below_pub, idx, axis=1)
        priv = idx - pub if self.below_priv is None else np.take(self.below_priv, idx, axis=1)
        return np.einsum("ij,ij->i", pub, is_pub), np.einsum("ij,ij->i", priv, is_priv)


def split_aucs(y: np.ndarray, preds: np.ndarray, codes: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of every run (column of `preds`) on the PUBLIC and on the PRIVATE rows of every
    split (row of `codes`, (n_splits, n_rows) int8); each part must hold both classes in
    the same numbers in every split. Returns two (n_splits, n_runs) arrays."""
    y = np.asarray(y).astype(bool)
    ranked = [_prepare(preds[y, j], preds[~y, j]) for j in range(preds.shape[1])]
    return _score(ranked, codes[:, y], codes[:, ~y])


def _score(ranked: list[_Ranked], pos_codes: np.ndarray, neg_codes: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    sizes = [(part == c).sum(axis=1) for part in (pos_codes, neg_codes) for c in (PUBLIC, PRIVATE)]
    if any(s.min() != s.max() or s.min() < 1 for s in sizes):
        raise ValueError("every split needs the same positive and negative counts in each part")
    m_pub, m_priv, n_pub, n_priv = (int(s[0]) for s in sizes)
    dtype = np.int32 if (m_pub + m_priv) * (n_pub + n_priv) < 2**31 else np.int64
    scorer = _Batch(pos_codes, neg_codes, dtype)
    public = np.empty((len(pos_codes), len(ranked)))
    private = np.empty_like(public)
    for j, run in enumerate(ranked):
        public[:, j], private[:, j] = scorer.u_statistics(run)
    return public / (m_pub * n_pub), private / (m_priv * n_priv)


def simulate(y, preds, names: list[str] | None = None, public_fraction: float = 0.3,
             n_splits: int = 2000, test_rows: int | None = None, seed: int = 0) -> Shakeup:
    """Simulate `n_splits` public/private splits of a test set of `test_rows` rows drawn from
    the OOF rows (default and at most: all of them), stratified by class.

    `preds`: (n_rows, k) OOF predictions of k runs on the same rows, `y` their 0/1 targets.
    Every split's public part holds round(public_fraction * test_rows) rows with the OOF
    rows' class balance; the private part the rest of the test rows.
    """
    f = check_fraction(public_fraction)
    y = np.asarray(y).ravel()
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise KfError(f"targets must be 0/1, got values {np.unique(y)[:5].tolist()}")
    y = y.astype(int)
    preds = np.asarray(preds, dtype=float)
    if preds.ndim == 1:
        preds = preds[:, None]
    if preds.shape[0] != len(y):
        raise KfError(f"{preds.shape[0]} prediction rows for {len(y)} targets")
    if not np.isfinite(preds).all():
        raise KfError("predictions hold NaN or infinite values")
    names = list(names) if names is not None else [f"run{j}" for j in range(preds.shape[1])]
    _check_splits(n_splits, seed)
    pos_rows, neg_rows = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_rows = test_rows if test_rows is not None else len(y)
    n_rows = min(int(n_rows), len(y))
    # stratified sizes: each class split in the same proportions
    m_test = round(n_rows * len(pos_rows) / len(y))
    n_test = n_rows - m_test
    m_pub, n_pub = round(f * m_test), round(f * n_test)
    m_priv, n_priv = m_test - m_pub, n_test - n_pub
    if min(m_pub, n_pub, m_priv, n_priv) < 1:
        raise KfError(
            f"a public fraction of {f} of {n_rows} test rows leaves a public or private part "
            f"without both classes ({m_pub}+{n_pub} public, {m_priv}+{n_priv} private "
            f"positives+negatives); use a fraction nearer 0.5 or more rows")

    ranked = [_prepare(preds[pos_rows, j], preds[neg_rows, j]) for j in range(preds.shape[1])]
    rng = np.random.default_rng(seed)
    batch = max(1, _BATCH_ELEMENTS // len(y))
    public = np.empty((n_splits, preds.shape[1]))
    private = np.empty((n_splits, preds.shape[1]))
    for start in range(0, n_splits, batch):
        b = min(batch, n_splits - start)
        public[start:start + b], private[start:start + b] = _score(
            ranked, _codes(rng, len(pos_rows), b, m_pub, m_priv),
            _codes(rng, len(neg_rows), b, n_pub, n_priv))
    full = np.array([r.auc for r in ranked])
    return Shakeup(names, full, public, private, f, m_pub + n_pub, m_priv + n_priv)


# --- any metric ----------------------------------------------------------------------------
def simulate_metric(y: np.ndarray, outputs: list[np.ndarray], names: list[str],
                    metric: Metric, public_fraction: float = 0.3, n_splits: int = 2000,
                    test_rows: int | None = None, seed: int = 0,
                    strata: np.ndarray | None = None) -> Shakeup:
    """`simulate` for any contest metric: `outputs` are the runs' OOF outputs as the metric
    scores them ((n,) or (n, C)), `y` the targets as it takes them. With `strata` (a class
    per row) each class is split in the OOF rows' proportions, as `simulate` does for a
    binary target; without, the rows are drawn uniformly (multi-label, regression).

    A metric that is a mean over rows (log loss, accuracy, error rate, RMSE) is scored for
    every split at once from each run's per-row losses; any other one split by split.
    """
    f = check_fraction(public_fraction)
    _check_splits(n_splits, seed)
    n = len(y)
    n_rows = min(int(test_rows if test_rows is not None else n), n)
    groups = [np.arange(n)] if strata is None else \
        [np.flatnonzero(strata == s) for s in np.unique(strata)]
    sizes = [_part_sizes(f, round(n_rows * len(g) / n)) for g in groups]
    k_pub, k_priv = (sum(part) for part in zip(*sizes))
    if min(k_pub, k_priv) < 1:
        raise KfError(f"a public fraction of {f} of {n_rows} test rows leaves a public or "
                      f"private part empty; use a fraction nearer 0.5 or more rows")
    rng = np.random.default_rng(seed)
    losses = row_losses(metric, y, outputs)
    public = np.empty((n_splits, len(outputs)))
    private = np.empty_like(public)
    batch = max(1, _BATCH_ELEMENTS // n)
    for start in range(0, n_splits, batch):
        codes = _group_codes(rng, n, min(batch, n_splits - start), groups, sizes)
        part = slice(start, start + len(codes))
        if losses is None:
            public[part], private[part] = _split_scores(metric, y, outputs, codes)
        else:
            public[part] = from_mean(metric, (codes == PUBLIC) @ losses / k_pub)
            private[part] = from_mean(metric, (codes == PRIVATE) @ losses / k_priv)
    full = np.array([metric.score(y, o) for o in outputs])
    return Shakeup(list(names), full, public, private, f, k_pub, k_priv,
                   metric.higher_is_better)


def _part_sizes(f: float, test_rows: int) -> tuple[int, int]:
    """(public, private) rows of a test set of `test_rows` rows."""
    public = round(f * test_rows)
    return public, test_rows - public


def _group_codes(rng: np.random.Generator, n_rows: int, n_splits: int,
                 groups: list[np.ndarray], sizes: list[tuple[int, int]]) -> np.ndarray:
    """(n_splits, n_rows) int8: in each split, group g's rows hold exactly sizes[g] PUBLIC
    and PRIVATE rows, drawn uniformly (the smallest float64 keys, as `_codes`)."""
    codes = np.zeros((n_splits, n_rows), dtype=np.int8)
    for rows, (k_pub, k_priv) in zip(groups, sizes):
        order = np.argsort(rng.random((n_splits, len(rows))), axis=1)
        part = np.zeros((n_splits, len(rows)), dtype=np.int8)
        np.put_along_axis(part, order[:, :k_pub], PUBLIC, axis=1)
        np.put_along_axis(part, order[:, k_pub:k_pub + k_priv], PRIVATE, axis=1)
        codes[:, rows] = part
    return codes


def _check_splits(n_splits: int, seed: int) -> None:
    if n_splits < 1:
        raise KfError(f"--n {n_splits}: simulate at least one split (e.g. 2000)")
    if n_splits > MAX_SPLITS:
        raise KfError(f"--n {n_splits}: at most {MAX_SPLITS:,} splits (2,000 already give "
                      f"each probability to about ±0.01)")
    if seed < 0:
        raise KfError(f"--seed {seed}: a seed is a whole number >= 0")


def _split_scores(metric: Metric, y: np.ndarray, outputs: list[np.ndarray],
                  codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Public and private scores of every run on every split, one metric call each."""
    out = np.empty((2, len(codes), len(outputs)))
    for s, row in enumerate(codes):
        for p, code in enumerate((PUBLIC, PRIVATE)):
            rows = row == code
            out[p, s] = [metric.score(y[rows], o[rows]) for o in outputs]
    return out[0], out[1]
