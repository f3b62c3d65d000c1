"""Run-folder names (kfold.runfiles): a tag and its fold number are one mapping both ways."""

from __future__ import annotations

from pathlib import Path

from kfold.runfiles import FULL_TAG, RunFiles, fold_of, fold_tag


def test_a_fold_tag_gives_its_fold_back_and_the_retrain_none():
    assert [fold_of(fold_tag(k)) for k in (0, 1, 12)] == [0, 1, 12]
    assert fold_of(FULL_TAG) is None


def test_every_file_of_a_tag_is_named_from_the_tag():
    files = RunFiles(Path("models") / "r")
    assert files.history(fold_tag(3)).name == "history_fold3.csv"
    assert files.result(FULL_TAG).name == "full.result.json"
    assert files.preds(fold_tag(0)).name == "fold0.preds.npz"
