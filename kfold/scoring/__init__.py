"""Contest metrics, framework-free (numpy and scikit-learn's conventions, no torch).

- `measures`: the metric functions (AUC family, log loss as Kaggle computes it, accuracy, F1,
  RMSE, MAP@k), each equal to scikit-learn's where it has one;
- `kappa`: quadratic weighted kappa and its class thresholds, cross-fitted over the folds;
- `registry`: `Metric` (direction, what it needs, how output becomes a submission),
  `get_metric(name)` (unknown names get the close ones suggested) and each task's default.

Intervals of any metric are `kfold.stats.bootstrap`'s paired bootstrap.
"""

from kfold.scoring.registry import (
    DEFAULTS,
    METRICS,
    TASKS,
    Metric,
    default_metric,
    fold_metrics,
    get_metric,
    labels_of,
    metric_names,
)

__all__ = ["DEFAULTS", "METRICS", "TASKS", "Metric", "default_metric", "fold_metrics", "get_metric",
           "labels_of", "metric_names"]
