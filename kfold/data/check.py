"""`kf data check`: what a competitor wants to know before training.

Counts per class, image sizes, unreadable or truncated files, exact duplicates (within
train, across train/test, with conflicting labels), and defect-box coverage and bounds.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image

from kfold import views
from kfold.data.sources import Dataset, discover
from kfold.data.task import Task
from kfold.progress import Reporter
from kfold.views import Table
from kfold.workspace import Workspace


@dataclass
class DataReport:
    layout: str
    n_train: int
    n_test: int
    class_counts: dict[int, int]
    sizes: dict[str, int]  # "WxH" -> count
    unreadable: dict[str, str]  # path -> error
    duplicates_train: list[list[str]]  # groups of ids with identical bytes
    duplicates_train_test: list[tuple[str, str]]
    conflicting_labels: list[list[str]]
    boxes: dict = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it is not an image
    task: Task | None = None  # None: a report of an older kf (binary)
    metric: str = "auc"
    targets: str = ""  # the training targets in words (per class, per label or their range)

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> str:
        """What makes the data unusable as it is, with the fix, in one line ('' when ok)."""
        found = []
        if self.unreadable:
            found.append(f"{len(self.unreadable)} unreadable image(s) (first: "
                         f"{next(iter(self.unreadable))}): replace or remove them, or train "
                         "with --skip-bad")
        if self.conflicting_labels:
            found.append(f"{len(self.conflicting_labels)} group(s) of identical images with "
                         f"different labels (first: {' = '.join(self.conflicting_labels[0])})")
        if self.boxes.get("invalid"):
            found.append(f"{len(self.boxes['invalid'])} defect box(es) out of bounds or "
                         f"inverted in defect_area.csv (first: {self.boxes['invalid'][0]})")
        return "; ".join(found)


def _inspect(path: str) -> tuple[str, str | None, str | None]:
    """(sha256 of bytes, "WxH" or None, error or None) for one file."""
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with Image.open(path) as im:
            im.load()
            return digest, f"{im.width}x{im.height}", None
    except Exception as exc:  # PIL raises many types for broken files
        return digest, None, f"{type(exc).__name__}: {exc}"


def check_data(ws: Workspace, reporter: Reporter = Reporter()) -> DataReport:
    """Inspect every image; the layout, CSV files, sample submission and folds.csv are
    checked first (a KfError names the first problem), so nothing is decoded for nothing."""
    dataset = discover(ws)
    metric = dataset.task.metric(ws.config.metric)
    _check_folds_file(ws, dataset)
    frames = {"train": dataset.train, "test": dataset.test}
    info: dict[str, list] = {}
    with ThreadPoolExecutor(8) as pool:
        for split, frame in frames.items():
            with reporter.task(f"checking {split} images", len(frame)) as bar:
                info[split] = []
                for item in pool.map(_inspect, frame["path"]):
                    info[split].append(item)
                    bar.advance()
    train = dataset.train.assign(sha=[i[0] for i in info["train"]])
    test = dataset.test.assign(sha=[i[0] for i in info["test"]])
    unreadable = {p: i[2] for split, frame in frames.items()
                  for p, i in zip(frame["path"], info[split]) if i[2]}
    sizes = Counter(i[1] for split in info for i in info[split] if i[1])
    groups = [g for _, g in train.groupby("sha") if len(g) > 1]
    test_by_sha = test.groupby("sha")["id"].first()
    return DataReport(
        layout=dataset.layout, n_train=len(train), n_test=len(test),
        class_counts=({int(k): int(v) for k, v in train["target"].value_counts().sort_index().items()}
                      if dataset.task.kind in ("binary", "multiclass") else {}),
        sizes=dict(sizes.most_common()),
        unreadable=unreadable,
        duplicates_train=[sorted(g["id"]) for g in groups],
        duplicates_train_test=[(i, test_by_sha[s]) for i, s in zip(train["id"], train["sha"])
                               if s in test_by_sha.index],
        conflicting_labels=[sorted(g["id"]) for g in groups if g["target"].nunique() > 1],
        boxes=check_boxes(dataset, info["train"]),
        skipped=dataset.skipped,
        task=dataset.task, metric=metric.name, targets=describe_targets(dataset),
    )


def describe_targets(dataset: Dataset) -> str:
    """The training targets in words: images per class (per label, with how many have none),
    or a regression target's range."""
    task, target = dataset.task, dataset.train["target"]
    if task.kind == "regression":
        return f"{target.min():g} to {target.max():g}, mean {target.mean():.3g}"
    if task.kind == "multilabel":
        rows = target.str.split()
        counts = [f"{lab} {int(rows.map(lambda r, lab=lab: lab in r).sum())}"
                  for lab in task.classes]
        return ", ".join(counts) + f"; none {int((rows.str.len() == 0).sum())}"
    counts = target.value_counts()
    return ", ".join(f"{name} {int(counts.get(i, 0))}" for i, name in enumerate(task.classes))


def _check_folds_file(ws: Workspace, dataset: Dataset) -> None:
    """folds.csv, when there is one, must be readable and split exactly these images."""
    from kfold.folds import read_matching_folds

    if ws.folds_path.exists():
        read_matching_folds(ws, dataset.train, dataset.task.kind)


def check_boxes(dataset: Dataset, train_info: list) -> dict:
    """Coverage of defect images by boxes, and boxes that are inverted, out of the image,
    for unknown ids or for images labelled good."""
    if dataset.boxes is None:
        return {}
    boxes = dataset.boxes
    train = dataset.train.assign(size=[i[1] for i in train_info]).set_index("id")
    known = boxes["id"].isin(train.index)
    size = train["size"].reindex(boxes["id"]).to_numpy()
    wh = pd.Series(size).str.split("x", expand=True).astype(float) if len(boxes) else None
    # Coordinates are inclusive pixel indices: x_2 == x_1 is a one-pixel-wide box.
    inverted = (boxes["x_2"] < boxes["x_1"]) | (boxes["y_2"] < boxes["y_1"])
    outside = (boxes[["x_1", "y_1"]] < 0).any(axis=1)
    if wh is not None and wh.shape[1] == 2:
        outside |= (boxes["x_2"].to_numpy() > wh[0].to_numpy()) | (boxes["y_2"].to_numpy() > wh[1].to_numpy())
    on_good = known & boxes["id"].map(train["target"]).eq(0)
    defects = train.index[train["target"] == 1]
    covered = defects.isin(boxes["id"]).sum()
    invalid = boxes.loc[inverted | outside, "id"].tolist()
    return {
        "boxes": len(boxes),
        "defect_images": len(defects),
        "coverage": float(covered / len(defects)) if len(defects) else 0.0,
        "unknown_ids": boxes.loc[~known, "id"].tolist(),
        "on_good_images": boxes.loc[on_good, "id"].tolist(),
        "invalid": invalid,
    }


def render_report(report) -> Table:
    counts = report.class_counts
    share = counts.get(1, 0) / max(report.n_train, 1)
    binary = report.task is None or report.task.kind == "binary"
    rows = [] if report.task is None else [("task", report.task.describe()),
                                           ("metric", _metric_label(report.metric))]
    rows += [
        ("training images", f"{report.n_train} (good {counts.get(0, 0)}, "
                            f"defect {counts.get(1, 0)} = {share:.1%})" if binary
         else f"{report.n_train} ({report.targets})"),
        ("test images", report.n_test),
        ("image sizes", ", ".join(f"{k}: {v}" for k, v in list(report.sizes.items())[:5])),
        ("unreadable files", _listing(list(report.unreadable))),
        ("not image files (left out)", _listing([f"{p} ({why})" for p, why in report.skipped.items()])),
        ("duplicates in train", _listing([" = ".join(g) for g in report.duplicates_train])),
        ("train/test duplicates",
         _listing([f"{a} = {b}" for a, b in report.duplicates_train_test])),
        ("conflicting labels", _listing([" = ".join(g) for g in report.conflicting_labels])),
    ]
    if report.boxes:
        b = report.boxes
        rows += [
            ("defect boxes", f"{b['boxes']} boxes cover {b['coverage']:.1%} of "
                             f"{b['defect_images']} defect images"),
            ("boxes out of bounds/inverted", _listing(b["invalid"])),
            ("boxes for unknown ids", _listing(b["unknown_ids"])),
            ("boxes on good images", _listing(b["on_good_images"])),
        ]
    return views.table(f"data check ({report.layout} layout)", ["what", "result"], rows,
                       header=False)


def _metric_label(name: str) -> str:
    from kfold.scoring import get_metric

    return f"{name} ({get_metric(name).label})"


def _listing(items: list[str]) -> str:
    if not items:
        return "none"
    return f"{len(items)}: " + "; ".join(items[:3]) + (" ..." if len(items) > 3 else "")
