"""Prediction files of any width: one column per class for multi-class and multi-label runs,
one for binary and regression; files written before tasks existed still load as binary."""

import numpy as np
import pandas as pd
import pytest

from kfold import artifacts
from kfold.errors import KfError

CLASSES = ("cat", "cow", "dog")


def _oof(kind, n=12, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": [f"i{k:02d}" for k in range(n)], "fold": np.arange(n) % 2})
    if kind == "multiclass":
        p = rng.dirichlet(np.ones(3), n)
        target = rng.integers(0, 3, n)
    elif kind == "multilabel":
        p = rng.random((n, 3))
        target = [" ".join(c for c in CLASSES if rng.random() < 0.4) for _ in range(n)]
    elif kind == "regression":
        p, target = rng.normal(size=(n, 1)) * 5, rng.normal(size=n)
    else:
        p, target = rng.random((n, 1)), rng.integers(0, 2, n)
    classes = CLASSES if kind in artifacts.WIDE else ()
    columns = artifacts.pred_columns(kind, classes)
    return frame.assign(target=target, **dict(zip(columns, p.T))), classes


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
def test_oof_and_test_files_round_trip_at_any_width(tmp_path, kind):
    oof, classes = _oof(kind)
    artifacts.write_oof(tmp_path / "r.parquet", oof, kind, classes)
    back = artifacts.read_oof(tmp_path / "r.parquet", kind)
    pd.testing.assert_frame_equal(back, oof[back.columns], check_dtype=False)
    assert artifacts.classes_of(back) == list(classes)
    mean = artifacts.pred_columns(kind, classes)
    per_fold = {c.replace("pred", f"pred_fold{k}", 1): oof[c] for k in range(2) for c in mean}
    test = pd.DataFrame({"id": oof["id"], **per_fold, **{c: oof[c] for c in mean}})
    artifacts.write_test_preds(tmp_path / "r.test.parquet", test, kind, classes)
    back = artifacts.read_test_preds(tmp_path / "r.test.parquet", kind)
    assert list(back.columns) == list(test.columns)


def test_a_binary_file_written_before_tasks_loads_unchanged(tmp_path):
    old = pd.DataFrame({"id": ["a", "b"], "target": [0, 1], "fold": [0, 1], "pred": [0.2, 0.9]})
    old.to_parquet(tmp_path / "old.parquet")  # as today's kf writes it
    pd.testing.assert_frame_equal(artifacts.read_oof(tmp_path / "old.parquet"), old)
    with pytest.raises(KfError, match="not one per class"):
        artifacts.read_oof(tmp_path / "old.parquet", "multiclass")


def test_multiclass_rows_must_sum_to_one_and_regression_may_leave_zero_to_one(tmp_path):
    oof, classes = _oof("multiclass")
    oof.loc[3, ["pred:cat", "pred:cow", "pred:dog"]] = [0.5, 0.4, 0.3]
    with pytest.raises(KfError, match="row 4 .* sums to"):
        artifacts.write_oof(tmp_path / "r.parquet", oof, "multiclass", classes)
    reg, _ = _oof("regression")
    assert (reg["pred"].abs() > 1).any()
    artifacts.write_oof(tmp_path / "g.parquet", reg, "regression")
    reg.loc[0, "pred"] = np.nan
    with pytest.raises(KfError, match="NaN, infinite"):
        artifacts.write_oof(tmp_path / "g.parquet", reg, "regression")
