"""Bad data, one row each: how the workspace's data (or kfold.toml, folds.csv) is broken, the
command, the message it must print. Each is refused up front, by `kf data check` and by
`kf train` alike, with one `error:` line and exit code 2, before any image is decoded: no
file changes and no run folder, cache or submission appears (tests/bad_input.py checks it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kfold.workspace import Workspace
from tests.bad_input import BadInput, check, run_kf

TRAIN = ["train", "--epochs", "1", "--batch-size", "16"]
CHECK = ["data", "check"]


# --- how to break a workspace ---------------------------------------------------------------
def _sample(ws: Workspace) -> Path:
    return ws.data_dir / "sample_submission.csv"


def _rewrite_sample(fn):
    def damage(ws: Workspace) -> None:
        path = _sample(ws)
        fn(pd.read_csv(path, dtype={"id": str})).to_csv(path, index=False)
    return damage


def _write(rel: str, text: str):
    def damage(ws: Workspace) -> None:
        (ws.root / rel).write_text(text)
    return damage


def _toml(line: str):
    def damage(ws: Workspace) -> None:
        path = ws.root / "kfold.toml"
        path.write_text(path.read_text() + line + "\n")
    return damage


def _toml_set(key: str, value: str):
    def damage(ws: Workspace) -> None:
        path = ws.root / "kfold.toml"
        lines = [ln for ln in path.read_text().splitlines() if not ln.startswith(f"{key} ")]
        path.write_text("\n".join([f"{key} = {value}", *lines]) + "\n")
    return damage


def _first_test_image(ws: Workspace) -> Path:
    return sorted((ws.data_dir / "test").iterdir())[0]


def _remove_test_image(ws: Workspace) -> None:
    _first_test_image(ws).unlink()


def _extra_test_image(ws: Workspace) -> None:
    shutil.copy(_first_test_image(ws), ws.data_dir / "test" / "STRANGER.jpg")


def _no_test_images(ws: Workspace) -> None:
    shutil.rmtree(ws.data_dir / "test")
    _sample(ws).unlink()
    (ws.data_dir / "solution.csv").unlink()


def _to_table_layout(ws: Workspace, **columns) -> pd.DataFrame:
    """Move the images into one images/ folder with train.csv (the common Kaggle layout)."""
    images = ws.data_dir / "images"
    images.mkdir()
    rows = []
    for label, folder in ((0, "good_0"), (1, "bad_1")):
        for p in sorted((ws.data_dir / "train" / folder).iterdir()):
            rows.append((p.stem, label))
            p.rename(images / p.name)
    shutil.rmtree(ws.data_dir / "train")
    for p in (ws.data_dir / "test").iterdir():
        p.rename(images / p.name)
    (ws.data_dir / "test").rmdir()
    table = pd.DataFrame(rows, columns=["id", "label"])
    table.to_csv(ws.data_dir / "train.csv", index=False)
    return table


def _train_csv(fn):
    def damage(ws: Workspace) -> None:
        table = _to_table_layout(ws)
        fn(table).to_csv(ws.data_dir / "train.csv", index=False)
    return damage


def _train_csv_text(text: str):
    def damage(ws: Workspace) -> None:
        _to_table_layout(ws)
        (ws.data_dir / "train.csv").write_text(text)
    return damage


def _bad_label(table: pd.DataFrame) -> pd.DataFrame:
    return table.astype({"label": object}).assign(
        label=lambda t: t["label"].where(t.index != 4, "defect"))


def _non_utf8_name(ws: Workspace) -> None:
    src = _first_test_image(ws)
    os.rename(src, os.path.join(os.fsencode(src.parent), b"caf\xe9.jpg"))


def _folds(text: str):
    def damage(ws: Workspace) -> None:
        ws.folds_path.write_text(text)
    return damage


def _folds_other_images(ws: Workspace) -> None:
    pd.DataFrame({"id": ["a", "b"], "target": [0, 1], "fold": [0, 1]}).to_csv(
        ws.folds_path, index=False)


def _folds_edit(fn):
    def damage(ws: Workspace) -> None:
        fn(pd.read_csv(ws.folds_path, dtype={"id": str})).to_csv(ws.folds_path, index=False)
    return damage


def _made_folds(ws: Workspace) -> None:
    assert run_kf(["folds"], ws).exit_code == 0


def _corrupt_train_image(ws: Workspace) -> None:
    sorted(ws.data_dir.glob("train/*/*.jpg"))[0].write_bytes(b"not a jpeg")


def _box_not_a_number(ws: Workspace) -> None:
    path = ws.data_dir / "defect_area.csv"
    boxes = pd.read_csv(path).astype({"x_1": object})
    boxes.loc[0, "x_1"] = "abc"
    boxes.to_csv(path, index=False)


def _toml_folder(ws: Workspace) -> None:
    (ws.root / "kfold.toml").unlink()
    (ws.root / "kfold.toml").mkdir()


# --- the table ------------------------------------------------------------------------------
SAMPLE = [
    BadInput("sample-no-id-column", CHECK, "has no 'id' column",
             _rewrite_sample(lambda s: s.rename(columns={"id": "image"}))),
    BadInput("sample-ID-column", CHECK, "it has 'ID': set id_column = \"ID\"",
             _rewrite_sample(lambda s: s.rename(columns={"id": "ID"}))),
    BadInput("sample-empty", CHECK, "sample_submission.csv is empty",
             _write("data/sample_submission.csv", "")),
    BadInput("sample-header-only", CHECK, "has a header but no rows",
             _write("data/sample_submission.csv", "id,label\n")),
    BadInput("sample-only-ids", CHECK, "needs an id column and a prediction column",
             _rewrite_sample(lambda s: s[["id"]])),
    BadInput("sample-duplicate-id", CHECK, "lists 1 id(s) twice",
             _rewrite_sample(lambda s: pd.concat([s, s.head(1)]))),
    BadInput("sample-unknown-id", CHECK, "have no image in",
             _rewrite_sample(lambda s: pd.concat([s, s.head(1).assign(id="NOPE")]))),
    BadInput("test-image-missing", CHECK, "have no image in", _remove_test_image),
    BadInput("test-image-extra", CHECK, "that sample_submission.csv does not list",
             _extra_test_image),
    BadInput("no-test-images", CHECK, "no test images", _no_test_images),
    BadInput("sample-no-id-column-train", TRAIN, "has no 'id' column",
             _rewrite_sample(lambda s: s.rename(columns={"id": "image"}))),
    BadInput("sample-empty-train", TRAIN, "sample_submission.csv is empty",
             _write("data/sample_submission.csv", "")),
    BadInput("test-image-missing-train", TRAIN, "have no image in", _remove_test_image),
    BadInput("no-test-images-train", TRAIN, "no test images", _no_test_images),
]

TOML = [
    BadInput("toml-id-column-missing", CHECK, "has no 'image' column",
             _toml_set("id_column", '"image"')),
    BadInput("toml-id-column-missing-train", TRAIN, "has no 'image' column",
             _toml_set("id_column", '"image"')),
    BadInput("toml-folds-text", CHECK, "n_folds = 'five' must be a whole number",
             _toml_set("n_folds", '"five"')),
    BadInput("toml-folds-float", TRAIN, "n_folds = 3.5 must be a whole number",
             _toml_set("n_folds", "3.5")),
    BadInput("toml-seed-text", TRAIN, "seed = 'x' must be a whole number from 0",
             _toml_set("seed", '"x"')),
    BadInput("toml-daily-limit-text", CHECK, "daily_limit = 'lots' must be a whole number",
             _toml_set("daily_limit", '"lots"')),
    # one table of settings: kfold.toml may not hold what every kf train would then refuse
    BadInput("toml-image-size-3000", TRAIN,
             "kfold.toml: image_size = 3000 must be a whole number from 8 to 2048",
             _toml_set("image_size", "3000")),
    BadInput("toml-image-size-zero", TRAIN, "image_size = 0 must be a whole number from 8",
             _toml_set("image_size", "0")),
    BadInput("toml-unknown-key", CHECK, "unknown key(s) ['n_fold']", _toml("n_fold = 3")),
    BadInput("toml-id-column-number", CHECK, "id_column = 3 must be a non-empty text",
             _toml_set("id_column", "3")),
    BadInput("toml-public-fraction-text", CHECK, "public_fraction = 'x' must be a number "
             "in (0, 1)", _toml_set("public_fraction", '"x"')),
    BadInput("toml-not-utf8-train", TRAIN, "kfold.toml: not valid TOML",
             lambda ws: (ws.root / "kfold.toml").write_bytes(b"\xff\xfe\x00seed = 1")),
    BadInput("toml-is-a-folder-check", CHECK, "kfold.toml cannot be read", _toml_folder),
]

TABLES = [
    BadInput("train-csv-bad-label", CHECK, "train.csv line 6 (id ",
             _train_csv(_bad_label)),
    BadInput("train-csv-bad-label-value", TRAIN, "label = 'defect' is not 0 or 1",
             _train_csv(_bad_label)),
    BadInput("train-csv-duplicate-id", TRAIN, "train.csv lists 1 id(s) twice",
             _train_csv(lambda t: pd.concat([t, t.head(1)]))),
    BadInput("train-csv-unknown-id", CHECK, "1 id(s) of train.csv have no image",
             _train_csv(lambda t: pd.concat([t, t.head(1).assign(id="GHOST")]))),
    BadInput("train-csv-ID-column", CHECK, "it has 'ID'",
             _train_csv(lambda t: t.rename(columns={"id": "ID"}))),
    BadInput("train-csv-header-only", TRAIN, "train.csv has a header but no rows",
             _train_csv(lambda t: t.head(0))),
    BadInput("train-csv-empty", CHECK, "train.csv is empty", _train_csv_text("")),
    BadInput("train-csv-not-csv", TRAIN, "train.csv is not a readable CSV file",
             _train_csv_text('id,label\n"a,0\nb,1,2,3\n')),
    BadInput("train-csv-one-class", TRAIN, "has no images of class 1",
             _train_csv(lambda t: t.assign(label=0))),
    BadInput("train-csv-missing-id", CHECK, "row 2 has no 'id'",
             _train_csv(lambda t: t.assign(id=[None, *t["id"][1:]]))),
    BadInput("non-utf8-file-name", CHECK, "not UTF-8 ('caf\\udce9.jpg')", _non_utf8_name),
    BadInput("folds-empty", CHECK, "folds.csv is empty", _folds("")),
    BadInput("folds-bad-fold", CHECK, "fold = 'x' is not valid",
             _folds("id,target,fold\na,0,x\n")),
    BadInput("folds-bad-fold-train", TRAIN, "fold = 'x' is not valid",
             _folds("id,target,fold\na,0,x\n")),
    BadInput("crop-too-large", [*TRAIN, "--crop", "30"], "--crop 30 is too large for the image "
             "size (48x48 images)", may_write=[".cache", ".cache/*"]),
    BadInput("folds-other-images", CHECK, "does not match the training images",
             _folds_other_images),
    BadInput("folds-numbered-with-a-gap", CHECK, "folds [0, 1, 5] are not numbered 0 to k-1",
             lambda ws: (_made_folds(ws), _folds_edit(
                 lambda f: f.assign(fold=f["fold"].where(f.index != 0, 5)))(ws))),
    BadInput("folds-other-labels", CHECK, "has target 0 but label 1",
             lambda ws: (_made_folds(ws), _folds_edit(lambda f: f.assign(target=0))(ws))),
    BadInput("sample-three-columns", TRAIN, "needs an id column and a prediction column, "
             "nothing else", _rewrite_sample(lambda s: s.assign(extra=1))),
    BadInput("boxes-not-a-number", CHECK, "x_1 = 'abc' is not a whole number of pixels",
             _box_not_a_number),
    BadInput("unreadable-image-check", CHECK, "1 unreadable image(s)", _corrupt_train_image),
]


@pytest.mark.parametrize("row", SAMPLE + TOML + TABLES, ids=str)
def test_bad_data_is_refused_up_front_and_changes_nothing(workspace, row):
    result = check(row, workspace)
    assert "decoding" not in result.output or row.id == "crop-too-large"


# --- entries that are not images: left out and counted, not a traceback --------------------
def _hostile(ws: Workspace) -> None:
    good = ws.data_dir / "train" / "good_0"
    (good / "folder.jpg").mkdir()
    (good / "dangling.jpg").symlink_to(good / "nowhere.jpg")
    (good / "loop.jpg").symlink_to(good / "loop.jpg")


def test_folders_dangling_links_and_loops_are_left_out_and_counted(workspace, monkeypatch):
    from kfold.cli._common import console

    _hostile(workspace)
    # Full paths under a long temporary folder would wrap inside the table's cell, and a
    # wrapped cell interleaves with its label: a console wide enough keeps each on one line.
    monkeypatch.setattr(console, "width", 4000)
    result = run_kf(CHECK, workspace)
    assert result.exit_code == 0, result.output
    # a long temp path (pytest-xdist's popen-gwN, macOS's /var/folders) wraps the table cell
    text = " ".join(w for w in result.stdout.split() if w != "│")
    assert "not image files (left out)" in text and "3:" in text
    for why in ("a folder, not an image", "dangling symlink", "symlink loop"):
        assert why in text


def test_wide_images_are_decoded_by_their_real_range(workspace):
    """A 16-bit PNG (12-bit values) and a float TIFF in [0, 1] train like their 8-bit
    versions instead of decoding white or black."""
    test_dir = workspace.data_dir / "test"
    first = sorted(test_dir.iterdir())[:2]
    gray = [np.asarray(Image.open(p).convert("L")) for p in first]
    Image.fromarray(gray[0].astype(np.uint16) * 16).save(test_dir / "wide16.png")
    Image.fromarray(gray[1].astype(np.float32) / 255, mode="F").save(test_dir / "float.tif")
    for p in first:
        p.unlink()
    sample = pd.read_csv(workspace.data_dir / "sample_submission.csv", dtype={"id": str})
    sample.loc[sample["id"] == first[0].stem, "id"] = "wide16"
    sample.loc[sample["id"] == first[1].stem, "id"] = "float"
    sample.to_csv(workspace.data_dir / "sample_submission.csv", index=False)

    from kfold.data.cache import decode

    assert np.abs(decode(str(test_dir / "wide16.png")).astype(int) - gray[0]).max() <= 1
    assert np.abs(decode(str(test_dir / "float.tif")).astype(int) - gray[1]).max() <= 1
    result = run_kf(CHECK, workspace)
    assert result.exit_code == 0, result.output
