"""Where the images are: detect the workspace's data layout and list train/test images.

Accepted layouts (docs/architecture.md, workspace):
- folders: data/train/<class>/*.jpg (e.g. good_0, bad_1) and data/test/*.jpg
- table:   data/train.csv (id, label) + an images folder (data/train/, data/images/ or
           data/train_images/ holding <id>.<ext>)
Optional: data/defect_area.csv (id, x_1, y_1, x_2, y_2), data/sample_submission.csv.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kfold.errors import KfError
from kfold.workspace import Workspace

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
BOX_COLUMNS = ["id", "x_1", "y_1", "x_2", "y_2"]


@dataclass(frozen=True)
class Dataset:
    """The images of one competition: `train` (id, path, target), `test` (id, path)."""

    train: pd.DataFrame
    test: pd.DataFrame
    boxes: pd.DataFrame | None
    layout: str

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
    if (data / "train.csv").exists():
        train, layout = _table_train(ws), "table"
    elif (data / "train").is_dir():
        train, layout = _folder_train(ws), "folders"
    else:
        raise KfError(
            f"{data} has neither train/<class>/ folders nor train.csv; "
            "see the README for the accepted layouts"
        )
    _check_unique(train, "training")
    test = _list_images(data / "test") if (data / "test").is_dir() else _empty()
    _check_unique(test, "test")
    return Dataset(train=train, test=test, boxes=read_boxes(data / "defect_area.csv"),
                   layout=layout)


def _folder_train(ws: Workspace) -> pd.DataFrame:
    root = ws.data_dir / "train"
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    positive = ws.config.positive_class
    if positive not in classes or len(classes) != 2:
        raise KfError(
            f"{root} must hold exactly two class folders including {positive!r} "
            f"(found {classes}); set positive_class in kfold.toml"
        )
    frames = []
    for name in classes:
        images = _list_images(root / name)
        if images.empty:
            raise KfError(f"class folder {root / name} has no images")
        frames.append(images.assign(target=int(name == positive)))
    return pd.concat(frames, ignore_index=True)


def _table_train(ws: Workspace) -> pd.DataFrame:
    cfg, data = ws.config, ws.data_dir
    table = pd.read_csv(data / "train.csv", dtype={cfg.id_column: str})
    missing = [c for c in (cfg.id_column, cfg.target_column) if c not in table.columns]
    if missing:
        raise KfError(
            f"{data / 'train.csv'} lacks column(s) {missing} (found {list(table.columns)}); "
            "set id_column/target_column in kfold.toml"
        )
    folder = next((data / d for d in ("train", "images", "train_images") if (data / d).is_dir()),
                  None)
    if folder is None:
        raise KfError(f"train.csv found but no images folder (train/, images/ or train_images/) in {data}")
    files = {p.stem: p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS}
    ids = table[cfg.id_column].astype(str)
    absent = [i for i in ids if i not in files]
    if absent:
        raise KfError(f"{len(absent)} id(s) of train.csv have no image in {folder}, first: {absent[:5]}")
    target = pd.to_numeric(table[cfg.target_column], errors="coerce")
    if target.isna().any() or not target.isin([0, 1]).all():
        raise KfError(f"{cfg.target_column!r} in train.csv must be 0 or 1")
    for value in (0, 1):
        if not (target == value).any():
            raise KfError(f"train.csv has no images of class {value}")
    return pd.DataFrame({"id": ids, "path": [str(files[i]) for i in ids],
                         "target": target.astype(int)})


def _list_images(folder: Path) -> pd.DataFrame:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    return pd.DataFrame({"id": [p.stem for p in paths], "path": [str(p) for p in paths]})


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"id": pd.Series(dtype=str), "path": pd.Series(dtype=str)})


def _check_unique(frame: pd.DataFrame, what: str) -> None:
    dup = frame["id"][frame["id"].duplicated()]
    if len(dup):
        raise KfError(f"{len(dup)} duplicate {what} id(s), first: {dup.head(5).tolist()}")


def read_boxes(path: Path) -> pd.DataFrame | None:
    """defect_area.csv as integers, or None when the file is absent."""
    if not path.exists():
        return None
    boxes = pd.read_csv(path, dtype={"id": str})
    missing = [c for c in BOX_COLUMNS if c not in boxes.columns]
    if missing:
        raise KfError(f"{path} lacks column(s) {missing} (found {list(boxes.columns)})")
    return boxes[BOX_COLUMNS]
