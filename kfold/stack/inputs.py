"""What blenders of any width are given: an `artifacts.OofStack` as scikit-learn's (X, y).

X is (n, runs * C), each run's C class columns side by side (kfold.stack.task_blenders);
y is the targets as `kfold.scoring` takes them (class indices, a multi-label indicator,
0/1, numbers).
"""

from __future__ import annotations

import numpy as np

from kfold.artifacts import OofStack
from kfold.data.task import Task, model_targets


def targets_of(stack: OofStack) -> np.ndarray:
    """The rows' targets as the contest's metric scores them."""
    task = Task(stack.contest.task, stack.contest.classes, reason="stacked runs")
    return model_targets(task, stack.rows["target"])


def flat(preds: np.ndarray) -> np.ndarray:
    """(n, runs, C) predictions as the (n, runs * C) matrix blenders take."""
    return preds.reshape(preds.shape[0], -1)


def output_of(columns: np.ndarray) -> np.ndarray:
    """One run's (n, C) columns as the metric scores them: (n,) when C is 1."""
    return columns[:, 0] if columns.shape[1] == 1 else columns
