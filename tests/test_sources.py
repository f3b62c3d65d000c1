"""Data layouts: the two folder layouts, one images/ folder for train and test with the ids in
CSV files, ids with or without their file extension."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from kfold.data.sources import discover
from kfold.workspace import Workspace


def _one_images_folder(ws: Workspace) -> tuple[pd.DataFrame, list[str]]:
    """Train and test images together in data/images/, labels in train.csv."""
    data = ws.data_dir
    images = data / "images"
    images.mkdir()
    rows = []
    for label, folder in ((0, "good_0"), (1, "bad_1")):
        for p in sorted((data / "train" / folder).iterdir()):
            rows.append((p.stem, label))
            p.rename(images / p.name)
    test = sorted(p.stem for p in (data / "test").iterdir())
    for p in (data / "test").iterdir():
        p.rename(images / p.name)
    shutil.rmtree(data / "train")
    (data / "test").rmdir()
    train = pd.DataFrame(rows, columns=["id", "label"])
    train.to_csv(data / "train.csv", index=False)
    return train, test


def test_folder_layout_lists_train_and_test_in_the_sample_submissions_order(workspace):
    ds = discover(workspace)
    sample = pd.read_csv(workspace.data_dir / "sample_submission.csv", dtype={"id": str})
    assert ds.layout == "folders" and len(ds.train) == 60
    assert ds.test["id"].tolist() == sample["id"].tolist()
    assert ds.skipped == {}


@pytest.mark.parametrize("listing", ["sample_submission.csv", "test.csv"])
def test_one_images_folder_with_test_ids_from_a_csv(workspace, listing):
    train, test = _one_images_folder(workspace)
    data = workspace.data_dir
    if listing == "test.csv":
        (data / "sample_submission.csv").rename(data / "test.csv")
    ds = discover(workspace)
    assert ds.layout == "table"
    assert sorted(ds.train["id"]) == sorted(train["id"])
    assert sorted(ds.test["id"]) == test
    assert all("/images/" in p for p in [*ds.train["path"], *ds.test["path"]])


def test_ids_written_with_their_extension_keep_it(workspace):
    train, test = _one_images_folder(workspace)
    data = workspace.data_dir
    train.assign(id=train["id"] + ".jpg").to_csv(data / "train.csv", index=False)
    sample = pd.read_csv(data / "sample_submission.csv", dtype={"id": str})
    sample.assign(id=sample["id"] + ".jpg").to_csv(data / "sample_submission.csv", index=False)
    ds = discover(workspace)
    assert ds.train["id"].str.endswith(".jpg").all() and ds.test["id"].str.endswith(".jpg").all()
    assert all(p.endswith(i) for i, p in zip(ds.train["id"], ds.train["path"]))


def test_a_test_folder_is_still_used_beside_train_csv(workspace):
    data = workspace.data_dir
    rows = [(p.stem, int(folder == "bad_1")) for folder in ("good_0", "bad_1")
            for p in (data / "train" / folder).iterdir()]
    pd.DataFrame(rows, columns=["id", "label"]).to_csv(data / "train.csv", index=False)
    ds = discover(workspace)  # images found under train/<class>/ by their id
    assert ds.layout == "table" and len(ds.train) == 60 and len(ds.test) == 16
