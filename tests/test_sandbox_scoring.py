"""The stand-in scores an upload with the competition's metric, for every kind of contest."""

import numpy as np
import pandas as pd
import pytest

from kfold.data.synth.tasks import synthesize_task
from kfold.kaggle.sandbox.scoring import Scorer
from kfold.scoring import get_metric
from kfold.submission_format import read_truth
from kfold.workspace import Workspace


def _workspace(tmp_path, task, **config):
    synthesize_task(tmp_path / "data", task, n_train=40, n_test=12, size=32, seed=0)
    return Workspace.init(tmp_path, n_folds=2, **config)


def _split_scores(scorer, solution, output):
    truth = read_truth(solution, "label", scorer.kind, scorer.classes)
    metric = get_metric(scorer.metric)
    return tuple(metric.score(truth[(solution["Usage"] == u).to_numpy()],
                              output[(solution["Usage"] == u).to_numpy()])
                 for u in ("Public", "Private"))


def test_multiclass_upload_is_scored_by_log_loss_in_its_direction(tmp_path):
    ws = _workspace(tmp_path, "multiclass")
    scorer = Scorer.for_workspace(ws)
    assert (scorer.kind, scorer.metric) == ("multiclass", "logloss")
    solution = scorer.load(ws.data_dir / "solution.csv")
    p = np.random.default_rng(0).dirichlet(np.ones(6), len(solution))
    sub = pd.DataFrame(p, columns=list(scorer.classes)).assign(id=solution["id"])
    public, private = scorer.score(sub.to_csv(index=False).encode(), solution)
    assert (public, private) == pytest.approx(_split_scores(scorer, solution, p))
    perfect = read_truth(solution, "label", "multiclass", scorer.classes)
    sure = pd.DataFrame(np.eye(6)[perfect], columns=list(scorer.classes)).assign(
        id=solution["id"])
    assert scorer.score(sure.to_csv(index=False).encode(), solution)[0] < public


def test_multilabel_and_regression_and_map_at_5(tmp_path):
    ws = _workspace(tmp_path / "ml", "multilabel", metric="f1-micro")
    scorer = Scorer.for_workspace(ws)
    solution = scorer.load(ws.data_dir / "solution.csv")
    truth = read_truth(solution, "label", "multilabel", scorer.classes)
    exact = pd.DataFrame(truth, columns=list(scorer.classes)).assign(id=solution["id"])
    assert scorer.score(exact.to_csv(index=False).encode(), solution) == (1.0, 1.0)

    ws = _workspace(tmp_path / "reg", "regression")
    scorer = Scorer.for_workspace(ws)
    solution = scorer.load(ws.data_dir / "solution.csv")
    off = solution[["id"]].assign(label=solution["label"] + 2.0)
    assert scorer.score(off.to_csv(index=False).encode(), solution) == pytest.approx((2.0, 2.0))

    ws = _workspace(tmp_path / "mc", "multiclass", metric="map@5")
    scorer = Scorer.for_workspace(ws)
    solution = scorer.load(ws.data_dir / "solution.csv")
    guesses = solution[["id"]].assign(label=[" ".join([c, *[o for o in scorer.classes
                                                            if o != c][:4]])
                                             for c in solution["label"]])
    assert scorer.score(guesses.to_csv(index=False).encode(), solution) == (1.0, 1.0)


def test_an_upload_the_task_cannot_take_is_an_error_not_a_score(tmp_path):
    ws = _workspace(tmp_path, "multiclass")
    scorer = Scorer.for_workspace(ws)
    solution = scorer.load(ws.data_dir / "solution.csv")
    half = solution[["id"]].assign(good=0.5, scratch=0.5)
    with pytest.raises(ValueError, match="are not the classes"):
        scorer.score(half.to_csv(index=False).encode(), solution)


def test_a_log_loss_leaderboard_ranks_the_lowest_first_among_rivals_below_a_guess(tmp_path):
    from kfold.kaggle.sandbox import SandboxServer

    ws = _workspace(tmp_path, "multiclass")
    state = SandboxServer.from_workspace(ws, score_delay_s=0).state
    solution, classes = state.solution, list(state.scorer.classes)
    guess = state.scorer.score((ws.data_dir / "sample_submission.csv").read_bytes(), solution)[0]
    sure = np.eye(6)[read_truth(solution, "label", "multiclass", classes)] * 0.99 + 0.01 / 6
    state.add_submission("sandbox-user", "sure.csv", "", pd.DataFrame(sure, columns=classes)
                         .assign(id=solution["id"]).to_csv(index=False).encode())
    board = state.leaderboard()
    scores = [r["score"] for r in board]
    assert scores == sorted(scores) and board[0]["team"] == "sandbox-user"
    assert all(0.3 * guess <= r["score"] <= 0.9 * guess for r in board[1:])
