"""Prediction-level duplicates: what the metric scores the same as a submitted file (the same
predictions in another row order; for AUC, the same ranking) is refused unless forced,
naming that submission; a near-copy of a submitted ranking is named in a warning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kfold.errors import KfError
from kfold.kaggle import flow
from kfold.kaggle.client import KaggleClient
from kfold.kaggle.compare import (
    closest,
    identical,
    read_preds,
    scores_alike,
    spearman,
)
from kfold.kaggle.sandbox import SandboxServer
from tests.kaggle_helpers import isolate_credentials, make_competition, write_kaggle_json


def _series(values, ids=("a", "b", "c", "d")):
    return pd.Series(values, index=list(ids), dtype=float)


def test_identical_ignores_row_order_not_values():
    a = _series([0.1, 0.2, 0.3, 0.4])
    assert identical(a, a.iloc[::-1])
    assert not identical(a, _series([0.1, 0.2, 0.3, 0.41]))
    assert not identical(a, _series([0.1, 0.2, 0.3, 0.4], ids="abce"))


def test_a_rank_metric_scores_the_same_ranking_alike_another_metric_only_identical_values():
    a = _series([0.1, 0.2, 0.3, 0.4])
    same_order = _series([0.0, 0.5, 0.6, 0.9])
    assert scores_alike(a, same_order, "auc") and not scores_alike(a, same_order, "logloss")
    assert scores_alike(a, a.iloc[::-1], "logloss")
    assert not scores_alike(a, _series([0.1, 0.1, 0.3, 0.4]), "auc")  # a tie made: not alike


def test_closest_prefers_what_scores_alike_then_highest_rank_correlation():
    a = _series([0.1, 0.2, 0.3, 0.4])
    others = {"x": _series([0.4, 0.3, 0.2, 0.1]), "y": _series([0.0, 0.5, 0.6, 0.9])}
    m = closest(a, others)
    assert m.label == "y" and m.rho == pytest.approx(1.0) and m.same and not m.identical
    assert not closest(a, others, "logloss").same
    assert closest(a, {"z": a.iloc[::-1]}).identical
    assert closest(a, {}) is None
    assert np.isnan(spearman(a, _series([1, 2], ids="xy")))


def test_read_preds_takes_bytes_or_a_path(tmp_path):
    data = b"id,label\na,0.5\nb,0.25\n"
    (tmp_path / "s.csv").write_bytes(data)
    assert read_preds(data, "id").to_dict() == read_preds(tmp_path / "s.csv", "id").to_dict()
    assert read_preds(b"\xff\x00garbage", "id") is None


@pytest.fixture
def env(tmp_path, monkeypatch):
    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg", username="tester")
    ws = make_competition(tmp_path / "ws", daily_limit=5, candidates=[("good", 0.15, 0.95)])
    server = SandboxServer.from_workspace(ws, score_delay_s=0.0).start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    yield ws, server, KaggleClient(ws.config.competition, backoff_s=0.01)
    server.stop()


def test_shuffled_copy_of_a_submission_is_refused_unless_forced(env, tmp_path):
    ws, server, c = env
    flow.submit(ws, None, "first", client=c)
    df = pd.read_csv(ws.submission_path("good"), dtype={"id": str})
    shuffled = tmp_path / "shuffled.csv"
    df.sample(frac=1, random_state=0).to_csv(shuffled, index=False, float_format="%.17g")
    with pytest.raises(KfError, match=r"same predictions per id as good\.csv \(ref \d+"):
        flow.submit(ws, shuffled, "again", client=c)
    assert len(server.state.submissions) == 1  # no slot spent
    res = flow.submit(ws, shuffled, "again", client=c, force=True)
    assert any("same predictions" in w for w in res.warnings)
    assert len(server.state.submissions) == 2


def test_a_rounded_copy_is_refused_naming_the_submission_it_copies(env, tmp_path):
    """Rounded to 6 decimals: the same ranking, so the same AUC to the last digit."""
    ws, server, c = env
    first = flow.submit(ws, None, "first", client=c)
    df = pd.read_csv(ws.submission_path("good"), dtype={"id": str})
    rounded = tmp_path / "rounded.csv"
    df.assign(label=df["label"].round(6)).to_csv(rounded, index=False)
    with pytest.raises(KfError, match=rf"the same ranking as good\.csv \(ref {first.ref}, "
                                      rf"submitted as 'good'.*use --force"):
        flow.submit(ws, rounded, "rounded", client=c)
    assert len(server.state.submissions) == 1  # no slot spent
    res = flow.submit(ws, rounded, "rounded", client=c, force=True)
    assert res.ref and any("same ranking" in w for w in res.warnings)


def test_near_copy_is_submitted_with_a_warning_naming_it(env, tmp_path):
    ws, server, c = env
    flow.submit(ws, None, "first", client=c)
    df = pd.read_csv(ws.submission_path("good"), dtype={"id": str})
    order = df["label"].argsort().to_numpy()
    i, j = order[len(order) // 2], order[len(order) // 2 + 1]  # two neighbours swap places
    labels = df["label"].to_numpy().copy()
    labels[[i, j]] = labels[[j, i]]
    nudged = tmp_path / "nudged.csv"
    df.assign(label=labels).to_csv(nudged, index=False)
    res = flow.submit(ws, nudged, "nudged", client=c)
    assert res.ref and len(res.warnings) == 1
    assert "near-copy of good.csv (ref" in res.warnings[0] and "rank correlation" in res.warnings[0]
