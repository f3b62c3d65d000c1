"""A run's CV from its OOF rows, in the contest's metric: what run.json records and every
kf command ranks by (`kfold.train.run`), and the score of a run or stack that teaches
another (`kfold.train.teach`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kfold.artifacts import WIDE, pred_columns
from kfold.data.task import Task, model_targets
from kfold.metrics import auc
from kfold.scoring import Metric
from kfold.stats.foldscale import FoldScores, columns_to_fold_scale, fold_scores


def oof_scores(task: Task, metric: Metric, oof: pd.DataFrame) -> FoldScores:
    """The run's CV: a rank-based metric (the AUC family) fold-normalised, as a binary AUC
    was before tasks (docs/stack.md); any other metric scores the pooled OOF predictions
    (kappa's thresholds cross-fitted over the folds), which is then also its normalised
    score."""
    if task.kind == "binary" and metric.name == "auc":
        return fold_scores(oof["target"], oof["pred"], oof["fold"], metric=auc)
    y = model_targets(task, oof["target"])
    columns = pred_columns(task.kind, task.classes)
    output = oof[columns].to_numpy() if task.kind in WIDE else oof["pred"].to_numpy()
    folds = oof["fold"].to_numpy()
    pooled = metric.score_oof(y, output, folds)
    normalised = (metric.score_oof(y, columns_to_fold_scale(output, folds), folds)
                  if metric.rank_based else pooled)
    per_fold = tuple(metric.score(y[folds == k], output[folds == k]) for k in np.unique(folds))
    return FoldScores(pooled, normalised, per_fold)
