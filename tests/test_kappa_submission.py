"""A kappa contest (whole-number grades, a regression run scored by quadratic weighted
kappa) writes whole grades from the label set, cut by thresholds fitted on every OOF row, and
records the thresholds; its CV cuts each fold by thresholds fitted on the other folds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kfold import artifacts
from kfold.scoring import get_metric, kappa
from tests.cli_helpers import graded_workspace

RUN = "simple-cnn-32px"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Synthetic chips graded 0 to 4 (severity in fifths), trained as a regression."""
    return graded_workspace(tmp_path_factory.mktemp("kappa"), epochs=2)


def test_the_run_is_scored_by_cross_fitted_kappa(graded):
    record = artifacts.read_run(graded, RUN)
    assert (record.task, record.metric) == ("regression", "qwk")
    oof = artifacts.read_oof(graded.oof_path(RUN), "regression")
    cv = get_metric("qwk").score_oof(oof["target"].to_numpy(), oof["pred"].to_numpy(),
                                     oof["fold"].to_numpy())
    assert record.oof_auc == pytest.approx(cv)


def test_the_submission_holds_whole_grades_cut_by_thresholds_fitted_on_all_oof_rows(graded):
    sub = pd.read_csv(graded.submission_path(RUN))
    grades = sub["label"]
    assert grades.dtype.kind == "i"
    labels = set(pd.read_csv(graded.data_dir / "train.csv")["label"])
    assert set(grades) <= set(range(max(labels) + 1))

    lineage = json.loads(graded.submission_path(RUN).with_suffix(".json").read_text())["lineage"]
    oof = artifacts.read_oof(graded.oof_path(RUN), "regression")
    fitted = kappa.fit_cuts(oof["pred"].to_numpy(), oof["target"].to_numpy())
    assert lineage["kappa_thresholds"] == pytest.approx(fitted, abs=1e-6)
    assert len(fitted) == max(labels) and list(fitted) == sorted(fitted)
    assert lineage["kappa_fitted_on"] == f"oof/{RUN}.parquet, all {len(oof)} rows"

    test = artifacts.read_test_preds(graded.test_path(RUN), "regression").set_index("id")
    expected = kappa.cut(test.loc[sub["id"].astype(str), "pred"].to_numpy(),
                         lineage["kappa_thresholds"])
    np.testing.assert_array_equal(grades.to_numpy(), expected)
