"""Artifact schemas: readers refuse what would make a wrong blend or submission."""

import numpy as np
import pandas as pd
import pytest

from kfold import artifacts
from kfold.errors import KfError
from kfold.submission import validate_submission, write_submission


def oof(n=10, seed=0, fold_shift=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": [f"i{k}" for k in range(n)], "target": [k % 2 for k in range(n)],
                         "fold": [(k + fold_shift) % 2 for k in range(n)], "pred": rng.random(n)})


@pytest.mark.parametrize("change, message", [
    (lambda d: d.drop(columns="fold"), "missing column"),
    (lambda d: pd.concat([d, d.head(1)]), "duplicate id"),
    (lambda d: d.assign(pred=np.r_[np.nan, d["pred"][1:]]), "NaN or outside"),
    (lambda d: d.assign(pred=d["pred"] + 1), "NaN or outside"),
])
def test_bad_oof_is_refused(tmp_path, change, message):
    with pytest.raises(KfError, match=message):
        artifacts.write_oof(tmp_path / "x.parquet", change(oof()))


def test_aligned_oof_refuses_other_fold_splits(workspace):
    artifacts.write_oof(workspace.oof_path("a"), oof())
    artifacts.write_oof(workspace.oof_path("b"), oof(seed=1))
    artifacts.write_oof(workspace.oof_path("c"), oof(fold_shift=1))
    aligned = artifacts.load_aligned_oof(workspace, ["a", "b"])
    assert list(aligned.columns) == ["id", "target", "fold", "a", "b"]
    with pytest.raises(KfError, match="different fold splits"):
        artifacts.load_aligned_oof(workspace, ["a", "c"])


def test_submission_follows_sample_submission(workspace):
    sample = pd.read_csv(workspace.data_dir / "sample_submission.csv", dtype={"id": str})
    preds = pd.DataFrame({"id": sample["id"][::-1], "pred": np.linspace(0, 1, len(sample))})
    path = write_submission(workspace, "s", preds, 0.9, {"kind": "test"})
    written = pd.read_csv(path, dtype={"id": str})
    assert list(written.columns) == list(sample.columns)
    assert written["id"].tolist() == sample["id"].tolist()
    bad = written.assign(label=np.r_[np.nan, written["label"][1:]])
    with pytest.raises(KfError, match="1 value"):
        validate_submission(bad, workspace)
    with pytest.raises(KfError, match="duplicate"):
        validate_submission(pd.concat([written, written.head(1)]), workspace)
    with pytest.raises(KfError, match="missing"):
        validate_submission(written.iloc[1:], workspace)
