"""Where the images are: detect the workspace's data layout and list train/test images.

Accepted layouts (README "Data layouts", docs/architecture.md):
- folders: data/train/<class>/*.jpg (e.g. good_0, bad_1) and data/test/*.jpg
- table:   data/train.csv (id, label) + an images folder (data/train/, data/images/ or
           data/train_images/ holding <id>.<ext>, ids written with or without the extension);
           test images in data/test/ or data/test_images/, or in the same images folder with
           their ids from data/test.csv or data/sample_submission.csv
Optional: data/defect_area.csv (id, x_1, y_1, x_2, y_2), data/sample_submission.csv.

Everything is checked here, from file names and CSV contents alone, so that a broken layout
is refused before any image is decoded: missing or misnamed columns, empty files, bad labels
(row and value named), duplicate or unknown ids, a test folder that does not match the
sample submission, no test images at all. Entries that cannot be images (a folder named
x.jpg, a dangling symlink, a symlink loop) are left out and counted in `Dataset.skipped`.
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kfold.data.task import (
    Task,
    check_class_set,
    check_setting,
    from_folders,
    from_table,
    with_output,
)
from kfold.errors import KfError
from kfold.tables import read_csv, require_id_column, require_unique
from kfold.workspace import Workspace

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
BOX_COLUMNS = ["id", "x_1", "y_1", "x_2", "y_2"]


BINARY = Task("binary", ("0", "1"), "two classes")


@dataclass(frozen=True)
class Dataset:
    """The images of one competition: `train` (id, path, target), `test` (id, path), and
    the contest kind read from them (`kfold.data.task`: what `target` holds)."""

    train: pd.DataFrame
    test: pd.DataFrame
    boxes: pd.DataFrame | None
    layout: str
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it is not an image
    task: Task = BINARY

    @property
    def fingerprint(self) -> str:
        """Changes when any image is added, removed, renamed or rewritten."""
        h = hashlib.sha256()
        for frame in (self.train, self.test):
            h.update(file_signature(frame).encode())
        if "target" in self.train:
            h.update(",".join(map(str, self.train["target"])).encode())
        return h.hexdigest()[:16]


def file_signature(frame: pd.DataFrame) -> str:
    """Hash of (id, size, mtime) of every file: cheap, and changes when a file does."""
    h = hashlib.sha256()
    for i, p in zip(frame["id"], frame["path"]):
        st = Path(p).stat()
        h.update(f"{i}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def discover(ws: Workspace) -> Dataset:
    """Find the training and test images of the workspace, or say what is missing."""
    data = ws.data_dir
    if not data.is_dir():
        raise KfError(
            f"no data folder at {data}; make one with `kf data synth` or `kf data download`"
        )
    skipped: dict[str, str] = {}
    check_setting(ws.config.task)
    listing = _listing_path(data)
    sample = read_listing(ws, listing) if listing and listing.name.startswith("sample") else None
    if (data / "train.csv").exists():
        (train, task), images, layout = _table_train(ws, skipped, sample), _train_folder(data), \
            "table"
    elif (data / "train").is_dir():
        (train, task), images, layout = _folder_train(ws, skipped), None, "folders"
    else:
        raise KfError(
            f"{data} has neither train/<class>/ folders nor train.csv; "
            "see the README for the accepted layouts"
        )
    _check_unique(train, "training")
    task = with_output(task, sample, ws.config.id_column, listing or data)
    task.metric(ws.config.metric)  # an unknown metric, or another task's, fails here
    test = _test(ws, images, skipped)
    shared = sorted(set(train["id"]) & set(test["id"]))
    if shared:
        raise KfError(f"{len(shared)} id(s) are both training and test images, first: "
                      f"{shared[:5]}; an image belongs to one of them")
    return Dataset(train=train, test=test, boxes=read_boxes(data / "defect_area.csv"),
                   layout=layout, skipped=skipped, task=task)


def workspace_task(ws: Workspace) -> Task:
    """The contest kind of a workspace's data (`discover`), or binary when it holds no
    training data (a workspace used only to submit files, or to serve the stand-in)."""
    data = ws.data_dir
    if (data / "train").is_dir() or (data / "train.csv").exists():
        return discover(ws).task
    return BINARY


def test_images(ws: Workspace) -> pd.DataFrame:
    """The test images alone (id, path), found as `discover` finds them, without listing the
    training images: a code competition's kernel predicts a hidden test set."""
    data = ws.data_dir
    if not data.is_dir():
        raise KfError(f"no competition data at {data}; attach the competition to the kernel")
    images = _train_folder(data) if (data / "train.csv").exists() else None
    test = _test(ws, images, {})
    _check_unique(test, "test")
    return test


def _listing_path(data: Path) -> Path | None:
    """sample_submission.csv, else test.csv, when there is one."""
    return next((data / n for n in ("sample_submission.csv", "test.csv")
                 if (data / n).exists()), None)


def _folder_train(ws: Workspace, skipped: dict[str, str]) -> tuple[pd.DataFrame, Task]:
    """The images of class folders; `target` is the class's index in `task.classes`."""
    root = ws.data_dir / "train"
    if ws.config.group_column:
        raise KfError(f"kfold.toml names group_column {ws.config.group_column!r}, but class "
                      f"folders have no columns: put the groups in {ws.data_dir}/train.csv "
                      "(id, label, group), or remove group_column")
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    task = from_folders(names, ws.config.positive_class, ws.config.task)
    frames = []
    for name in names:
        images = _frame(_scan(root / name, skipped))
        if images.empty:
            raise KfError(f"class folder {root / name} has no images")
        frames.append(images.assign(target=task.classes.index(name)))
    return pd.concat(frames, ignore_index=True), task


def _train_folder(data: Path) -> Path:
    folder = next((data / d for d in ("train", "images", "train_images") if (data / d).is_dir()),
                  None)
    if folder is None:
        raise KfError(f"train.csv found but no images folder (train/, images/ or "
                      f"train_images/) in {data}")
    return folder


def _table_train(ws: Workspace, skipped: dict[str, str],
                 sample: pd.DataFrame | None) -> tuple[pd.DataFrame, Task]:
    cfg, path = ws.config, ws.data_dir / "train.csv"
    table = read_csv(path, cfg.id_column)
    require_id_column(table, cfg.id_column, path)
    ids = _ids(table, cfg.id_column, path)
    _mixed_labels(table, cfg.target_column, ids, path)
    sample_columns = None if sample is None else [c for c in sample.columns if c != cfg.id_column]
    task, target = from_table(table.reset_index(drop=True), cfg.id_column, cfg.target_column,
                              cfg.positive_class, cfg.task, sample_columns, path)
    if task.kind == "binary":
        _both_classes(target, path)
    check_class_set(task, target, sample_columns, ids, cfg.target_column, path)
    folder = _train_folder(ws.data_dir)
    paths = _resolve(ids, _scan(folder, skipped, recursive=True), folder, path)
    frame = pd.DataFrame({"id": ids, "path": paths, "target": target})
    return frame.assign(**_groups(table, cfg.group_column, ids, path)), task


def _groups(table: pd.DataFrame, column: str | None, ids: pd.Series, path: Path) -> dict:
    """{"group": each row's group} when kfold.toml names a group_column, else {}."""
    if column is None:
        return {}
    require_id_column(table, column, path, key="group_column")
    groups = table[column].reset_index(drop=True)
    if groups.isna().any():
        row = int(groups.isna().to_numpy().argmax())
        raise KfError(f"{path} line {row + 2} (id {ids[row]!r}): no {column} "
                      f"(group_column); every image needs its group")
    return {"group": groups.astype(str)}


def _test(ws: Workspace, images: Path | None, skipped: dict[str, str]) -> pd.DataFrame:
    """The test images: listed by sample_submission.csv (or test.csv) when there is one, found
    in test/ or test_images/, else (table layout) in the training images folder."""
    data = ws.data_dir
    listing = _listing_path(data)
    folder = next((data / d for d in ("test", "test_images") if (data / d).is_dir()), None)
    if listing is None:
        files = _scan(folder, skipped) if folder is not None else []
        if not files:
            raise KfError(f"no test images: {data} has no test/ folder with images and no "
                          "sample_submission.csv or test.csv naming them; a submission needs them")
        return _frame(files)
    ids = _ids(read_listing(ws, listing), ws.config.id_column, listing)
    where = folder or images
    if where is None:
        raise KfError(f"{listing} names {len(ids)} test image(s) but {data} has no test/ or "
                      "test_images/ folder holding them")
    files = _scan(where, skipped, recursive=folder is None)
    paths = _resolve(ids, files, where, listing)
    if folder is not None:
        extra = sorted(set(map(str, files)) - set(paths))
        if extra:
            raise KfError(f"{folder} holds {len(extra)} image(s) that {listing.name} does not "
                          f"list (first: {[Path(p).name for p in extra[:5]]}); the test folder "
                          "and the sample submission must match")
    return pd.DataFrame({"id": ids, "path": paths})


def read_listing(ws: Workspace, path: Path) -> pd.DataFrame:
    """sample_submission.csv or test.csv, checked: readable, the id column, unique ids, and (a
    sample submission) a prediction column (one per class allowed: `task.with_output` checks
    them against the classes)."""
    table = read_csv(path, ws.config.id_column)
    require_id_column(table, ws.config.id_column, path)
    if path.name == "sample_submission.csv" and len(table.columns) < 2:
        raise KfError(f"{path} needs an id column and a prediction column "
                      f"(columns: {list(table.columns)}); kf writes the predictions there")
    return table


def _ids(table: pd.DataFrame, column: str, path: Path) -> pd.Series:
    missing = table[column].isna()
    if missing.any():
        row = int(missing.to_numpy().argmax())
        raise KfError(f"{path} row {row + 2} has no {column!r}; every row needs an id")
    ids = table[column].astype(str).reset_index(drop=True)
    require_unique(ids, path)
    return ids


def _mixed_labels(table: pd.DataFrame, column: str, ids: pd.Series, path: Path) -> None:
    """A label column of numbers with a few words in it is a typo, not a class: the first
    word is named by its line (0/1 columns: "is not 0 or 1")."""
    if column not in table.columns:
        return
    raw = table[column].reset_index(drop=True)
    numbers = pd.to_numeric(raw, errors="coerce")
    words = numbers.isna() & raw.notna()
    if not words.any() or words.mean() > 0.5:
        return
    row = int(words.to_numpy().argmax())
    binary = numbers.dropna().isin([0, 1]).all()
    expected = "0 or 1" if binary else "a number like the other labels"
    fix = "labels must be 0 (good) or 1 (defect)" if binary else "fix the label"
    raise KfError(f"{path} line {row + 2} (id {ids[row]!r}): {column} = {raw[row]!r} is not "
                  f"{expected} ({int(words.sum())} such row(s)); {fix}")


def _both_classes(target: pd.Series, path: Path) -> None:
    for value in (0, 1):
        if not (target == value).any():
            raise KfError(f"{path} has no images of class {value}; training needs both classes")


def _resolve(ids: pd.Series, files: list[Path], folder: Path, listing: Path) -> list[str]:
    """The file of each id: written with its extension (`a.jpg`) or without (`a`)."""
    by_name = {p.name: p for p in files}
    by_stem: dict[str, list[Path]] = {}
    for p in files:
        by_stem.setdefault(p.stem, []).append(p)
    paths, absent = [], []
    for i in ids:
        found = by_name.get(i) or by_stem.get(i)
        if isinstance(found, list) and len(found) > 1:
            raise KfError(f"id {i!r} of {listing.name} matches {len(found)} files in {folder} "
                          f"({', '.join(p.name for p in found[:3])}); keep one")
        if not found:
            absent.append(i)
            continue
        paths.append(str(found[0] if isinstance(found, list) else found))
    if absent:
        raise KfError(f"{len(absent)} id(s) of {listing.name} have no image in {folder}, first: "
                      f"{absent[:5]} (ids may be written with or without the file extension)")
    return paths


def _scan(folder: Path, skipped: dict[str, str], recursive: bool = False) -> list[Path]:
    """The image files in `folder` (sorted). Names with an image extension that are not
    readable files are recorded in `skipped`; a name that is not UTF-8 is refused (it could
    not be written to a submission)."""
    try:
        if recursive:
            entries = [Path(d) / n for d, dirs, names in os.walk(folder) for n in dirs + names]
        else:
            entries = list(folder.iterdir())
    except OSError as exc:
        raise KfError(f"cannot list {folder} ({exc.strerror or exc}); check its permissions") from None
    found = []
    for p in sorted(entries):
        if p.suffix.lower() not in IMAGE_EXTS:
            continue
        try:
            p.name.encode("utf-8")
        except UnicodeEncodeError:
            raise KfError(f"{folder} holds a file whose name is not UTF-8 ({ascii(p.name)}); "
                          "rename it (ids must be text)") from None
        why = _not_an_image(p)
        if why:
            skipped[str(p)] = why
        else:
            found.append(p)
    return found


def _not_an_image(p: Path) -> str | None:
    """Why `p` cannot be an image file, or None."""
    try:
        p.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return "dangling symlink" if p.is_symlink() else f"cannot be read ({exc.strerror})"
    if p.is_dir():
        return "a folder, not an image"
    return None if p.is_file() else "not a regular file"


def _frame(paths: list[Path]) -> pd.DataFrame:
    return pd.DataFrame({"id": pd.Series([p.stem for p in paths], dtype=str),
                         "path": pd.Series([str(p) for p in paths], dtype=str)})


def _check_unique(frame: pd.DataFrame, what: str) -> None:
    dup = frame["id"][frame["id"].duplicated()]
    if len(dup):
        raise KfError(f"{len(dup)} duplicate {what} id(s), first: {dup.head(5).tolist()}")


def read_boxes(path: Path) -> pd.DataFrame | None:
    """defect_area.csv as integers, or None when the file is absent."""
    if not path.exists():
        return None
    boxes = read_csv(path, "id", rows=False)
    missing = [c for c in BOX_COLUMNS if c not in boxes.columns]
    if missing:
        raise KfError(f"{path} lacks column(s) {missing} (found {list(boxes.columns)})")
    boxes = boxes[BOX_COLUMNS].reset_index(drop=True)
    for column in BOX_COLUMNS[1:]:
        values = pd.to_numeric(boxes[column], errors="coerce")
        bad = values.isna() | (values % 1 != 0)
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise KfError(f"{path} line {row + 2} (id {boxes['id'][row]!r}): {column} = "
                          f"{boxes[column][row]!r} is not a whole number of pixels")
        boxes[column] = values.astype(int)
    return boxes
