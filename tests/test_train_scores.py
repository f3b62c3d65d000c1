"""A run's CV (kfold.train.scores): a rank-based metric is scored on the fold scale, as every
kf command scores it; a metric of probabilities or values scores the OOF rows as written."""

import numpy as np
import pandas as pd
import pytest

from kfold.data.task import Task
from kfold.scoring import get_metric
from kfold.train.scores import oof_scores

CLASSES = ("a", "b", "c")


def drifting_oof(seed: int = 0) -> pd.DataFrame:
    """Three-class OOF rows of two fold models that rank alike but on other scales: fold 1's
    probabilities squeezed towards the uniform row."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    folds = np.arange(300) % 2
    p[folds == 1] = 0.2 * p[folds == 1] + 0.8 / 3
    frame = pd.DataFrame(p, columns=[f"pred:{c}" for c in CLASSES])
    return frame.assign(id=[f"i{k}" for k in range(300)], target=y,
                        fold=folds)


def test_a_macro_auc_run_is_scored_on_the_fold_scale_and_pooled_beside_it():
    from kfold.stats.foldscale import columns_to_fold_scale

    oof, metric = drifting_oof(), get_metric("auc-ovr")
    scores = oof_scores(Task("multiclass", CLASSES, "test"), metric, oof)
    y = oof["target"].to_numpy()
    p, folds = oof[[f"pred:{c}" for c in CLASSES]].to_numpy(), oof["fold"].to_numpy()
    assert scores.normalised == pytest.approx(metric.score(y, columns_to_fold_scale(p, folds)))
    assert scores.pooled == pytest.approx(metric.score(y, p))
    assert scores.normalised > scores.pooled  # the squeezed fold drags the pooled score


def test_a_log_loss_run_is_scored_as_written():
    oof, metric = drifting_oof(), get_metric("logloss")
    scores = oof_scores(Task("multiclass", CLASSES, "test"), metric, oof)
    assert scores.normalised == scores.pooled and not scores.drift
