"""The synthetic Nexperia-like generator: determinism, layout, boxes, noise, errors."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kfold.data import synth
from kfold.data.synth import DEFECT_KINDS, SynthSummary, synthesize, writing
from kfold.errors import KfError

SMALL = {"n_train": 40, "n_test": 20, "size": 48, "defect_rate": 0.25, "seed": 3}
ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@pytest.fixture(scope="module")
def ds(tmp_path_factory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth") / "data"
    return out, synthesize(out, **SMALL)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _train_ids(root: Path) -> dict[str, int]:
    return {
        **{p.stem: 0 for p in (root / "train" / "good_0").glob("*.jpg")},
        **{p.stem: 1 for p in (root / "train" / "bad_1").glob("*.jpg")},
    }


def test_same_seed_same_bytes_other_seed_differs(ds, tmp_path):
    root, _ = ds
    again = tmp_path / "again"
    synthesize(again, **SMALL)
    assert _files(root) == _files(again)
    other = tmp_path / "other"
    synthesize(other, **{**SMALL, "seed": 4})
    assert _files(root) != _files(other)


def test_layout_counts_and_ids(ds):
    root, summary = ds
    assert {p.name for p in root.iterdir()} == {
        "train", "test", "defect_area.csv", "sample_submission.csv", "solution.csv"}
    train = _train_ids(root)
    test = [p.stem for p in (root / "test").glob("*.jpg")]
    assert len(train) == SMALL["n_train"] and len(test) == SMALL["n_test"]
    assert not set(train) & set(test)
    assert all(ID_RE.match(i) for i in [*train, *test])
    bad = sum(train.values())
    assert bad == summary.train_bad == round(SMALL["n_train"] * SMALL["defect_rate"])
    assert summary.train_good + summary.train_bad == SMALL["n_train"]
    assert summary.test_bad == round(SMALL["n_test"] * SMALL["defect_rate"])
    assert dict(summary.kinds).keys() <= set(DEFECT_KINDS)
    assert sum(n for _, n in summary.kinds) == summary.train_bad + summary.test_bad


def test_submission_files_match_test_ids(ds):
    root, summary = ds
    test = sorted(p.stem for p in (root / "test").glob("*.jpg"))
    sample = pd.read_csv(root / "sample_submission.csv")
    assert list(sample.columns) == ["id", "label"]
    assert sample["id"].tolist() == test
    assert (sample["label"] == 0.5).all()
    sol = pd.read_csv(root / "solution.csv")
    assert list(sol.columns) == ["id", "label", "Usage"]
    assert sol["id"].tolist() == test
    assert set(sol["Usage"]) == {"Public", "Private"}
    assert int(sol["label"].sum()) == summary.test_bad
    for usage in ("Public", "Private"):  # each half can be scored by AUC
        assert set(sol.loc[sol["Usage"] == usage, "label"]) == {0, 1}


def test_images_are_grayscale_jpeg_of_requested_size(ds):
    root, _ = ds
    for p in [*list((root / "train" / "bad_1").glob("*.jpg"))[:3], *list((root / "test").glob("*.jpg"))[:3]]:
        with Image.open(p) as im:
            assert im.format == "JPEG" and im.mode == "L" and im.size == (48, 48)


def test_boxes_inside_image_for_defect_images_only(ds):
    root, summary = ds
    boxes = pd.read_csv(root / "defect_area.csv")
    assert list(boxes.columns) == ["id", "x_1", "y_1", "x_2", "y_2"]
    assert boxes["id"].is_unique and len(boxes) == summary.boxes
    bad = {i for i, y in _train_ids(root).items() if y == 1}
    assert set(boxes["id"]) <= bad
    assert ((boxes.x_1 >= 0) & (boxes.y_1 >= 0) & (boxes.x_2 <= 47) & (boxes.y_2 <= 47)).all()
    assert ((boxes.x_2 > boxes.x_1) & (boxes.y_2 > boxes.y_1)).all()
    assert 0.6 * len(bad) <= len(boxes) < len(bad)  # most, not all (box_rate 0.85)


def test_box_rate_is_followed():
    items = synth.plan(n_train=400, n_test=10, defect_rate=0.25, box_rate=0.5, seed=0)
    bad = [it for it in items if it.split == "train" and it.filed == 1]
    assert sum(it.boxed for it in bad) == 50
    assert not any(it.boxed for it in items if it.split == "test" or it.label == 0)


@pytest.mark.parametrize("kind", DEFECT_KINDS)
@pytest.mark.parametrize("difficulty", [0.0, 1.0])
def test_box_encloses_every_changed_pixel(kind, difficulty):
    for seed in range(6):
        rng = np.random.default_rng(seed)
        size = 64 if seed % 2 else 267
        scene = synth.draw_scene(rng, size, difficulty)
        defect = synth.draw_defect(rng, scene, difficulty, kind=kind)
        diff = np.abs(synth.render(scene, defect) - synth.render(scene, None))
        x1, y1, x2, y2 = synth.defect_box(scene, defect)
        assert 0 <= x1 < x2 <= size - 1 and 0 <= y1 < y2 <= size - 1
        assert diff.max() > 5, f"{kind} drew nothing visible"
        outside = diff.copy()
        outside[y1:y2 + 1, x1:x2 + 1] = 0
        assert outside.max() < 1e-3, f"{kind} changed pixels outside its box"


def test_written_box_matches_the_drawn_defect(ds):
    """The written image equals render(scene, defect) and its csv row is defect_box."""
    root, _ = ds
    boxes = pd.read_csv(root / "defect_area.csv").set_index("id")
    items = {it.id: it for it in synth.plan(**{k: v for k, v in SMALL.items() if k != "size"})}
    some = boxes.index[0]
    scene, defect = synth.draw_item(items[some], SMALL["size"], 0.5)
    assert tuple(boxes.loc[some]) == synth.defect_box(scene, defect)
    written = np.asarray(Image.open(root / "train" / "bad_1" / f"{some}.jpg"), np.float32)
    assert np.abs(written - synth.render(scene, defect)).mean() < 3  # JPEG error only


def test_label_noise_flips_the_requested_share(tmp_path):
    s = synthesize(tmp_path / "noisy", n_train=40, n_test=4, size=32, label_noise=0.1, seed=1)
    assert s.flipped == 4
    items = synth.plan(n_train=40, n_test=4, label_noise=0.1, seed=1)
    flipped = [it for it in items if it.label != it.filed]
    assert len(flipped) == 4 and all(it.split == "train" for it in flipped)
    filed = _train_ids(tmp_path / "noisy")
    assert all(filed[it.id] == it.filed for it in flipped)
    boxed = set(pd.read_csv(tmp_path / "noisy" / "defect_area.csv")["id"])
    assert not boxed & {it.id for it in flipped}  # a box always holds a drawn defect


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_train": 5}, "--n-train must be a whole number from 10"),
        ({"size": 16}, "--size must be a whole number from 32 to 4096"),
        ({"size": 100_000}, "--size must be a whole number from 32 to 4096"),
        ({"defect_rate": 0.0}, "--defect-rate"),
        ({"defect_rate": 1.0}, "--defect-rate"),
        ({"defect_rate": float("nan")}, "--defect-rate"),
        ({"difficulty": 1.5}, "--difficulty"),
        ({"label_noise": 0.5}, "--label-noise"),
        ({"box_rate": -0.1}, "--box-rate"),
        ({"seed": -1}, "--seed must be a whole number from 0"),
    ],
)
def test_bad_arguments_raise(tmp_path, kwargs, message):
    with pytest.raises(KfError, match=message):
        synthesize(tmp_path / "x", **{"n_train": 10, "n_test": 2, "size": 32, **kwargs})
    assert not (tmp_path / "x").exists()


def test_non_empty_out_is_refused_and_untouched(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(KfError, match="empty folder"):
        synthesize(tmp_path, n_train=10, n_test=2, size=32)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_empty_out_is_filled_and_no_temp_left(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    synthesize(out, n_train=10, n_test=2, size=32)
    assert (out / "sample_submission.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writing, "encode_jpeg", boom)
    with pytest.raises(RuntimeError):
        synthesize(tmp_path / "data", n_train=10, n_test=2, size=32)
    assert list(tmp_path.iterdir()) == []


def test_summary_prints_with_rich():
    from rich.console import Console

    s = SynthSummary(path="x", n_train=10, n_test=2, train_good=8, train_bad=2, test_good=1,
                     test_bad=1, boxes=1, flipped=0, kinds=(("scratch", 3),), size=32, seed=0)
    console = Console(record=True, width=100)
    console.print(s)
    text = console.export_text()
    assert "good_0 8" in text and "scratch 3" in text


# Pixel hashes recorded from the generator before defect kinds became classes: a refactor of
# the drawing code must keep every image of a given seed identical.
GOLDEN = {
    "scratch": ("f1d872fed966de4d", "ecf377f3cc0f39ee", "c0d549beaaa8c7ff"),
    "chip": ("c4ce76693aa9bd3d", "d9419dcc86418ede", "6a7124acfdaed7db"),
    "crack": ("57db61469f0ab900", "bdb17c5f413d3261", "b0ea3687c33d862a"),
    "missing_lead": ("c96c660bb2fdd828", "5e28efcd599f953e", "311245a8321e4506"),
    "bent_lead": ("b20debc618a3cb76", "cadecf5ea4e1e0ce", "f3403f58f0e4355d"),
    "contamination": ("907b09c59f151dc7", "b38011d7f0d8fc86", "dff20e787c55b8cf"),
}
GOLDEN_PLAN = "e35b03929f7c614b"
# Every file `synthesize` writes (JPEGs and the three CSVs, by path), recorded from the
# one-module generator before it became a package.
GOLDEN_FILES = {
    3: ({}, "5129b600c5acb040"),
    11: ({"label_noise": 0.1, "difficulty": 0.9, "size": 64}, "6d91aa607d7b2272"),
}


def _pixels(scene, defect) -> bytes:
    return np.rint(synth.render(scene, defect)).astype(np.uint8).tobytes()


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_same_seed_draws_the_recorded_pixels(kind):
    got = []
    for seed, difficulty in ((0, 0.0), (1, 0.5), (2, 1.0)):
        rng = np.random.default_rng(seed)
        scene = synth.draw_scene(rng, 64 if seed % 2 else 96, difficulty)
        defect = synth.draw_defect(rng, scene, difficulty, kind=kind)
        h = hashlib.sha256(_pixels(scene, defect))
        h.update(repr(synth.defect_box(scene, defect)).encode())
        got.append(h.hexdigest()[:16])
    assert tuple(got) == GOLDEN[kind]


def test_same_seed_plans_the_recorded_dataset():
    """Kinds drawn at random (not forced) come out as before too."""
    h = hashlib.sha256()
    for item in synth.plan(n_train=12, n_test=4, defect_rate=0.5, seed=5):
        scene, defect = synth.draw_item(item, 48, 0.4)
        h.update(_pixels(scene, defect))
        h.update((defect.kind if defect else "-").encode())
    assert h.hexdigest()[:16] == GOLDEN_PLAN


@pytest.mark.parametrize("seed", GOLDEN_FILES)
def test_same_seed_writes_the_recorded_files(ds, tmp_path, seed):
    options, golden = GOLDEN_FILES[seed]
    root = ds[0] if seed == SMALL["seed"] else tmp_path / "data"
    if seed != SMALL["seed"]:
        synthesize(root, **{**SMALL, **options, "seed": seed})
    h = hashlib.sha256()
    for name, data in _files(root).items():
        h.update(name.encode() + b"\0" + data)
    assert h.hexdigest()[:16] == golden


def test_drawing_on_several_cores_gives_the_same_bytes_in_the_same_order():
    items = synth.plan(n_train=12, n_test=4, defect_rate=0.5, box_rate=0.5, seed=3)
    serial = [writing._draw_one(item, 48, 0.4) for item in items]
    assert list(writing._draw_all(items, 48, 0.4, chunk=4)) == serial  # 2 worker processes
    assert any(box is not None for _, _, box in serial)
