"""`kf explain` end to end on a tiny trained run: artifacts, out-of-fold guarantee, bad input."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold import artifacts, backends
from kfold.bench.explain import bench_explain
from kfold.cli import app
from kfold.data.prepared import prepare
from kfold.data.preprocess import Preprocess
from kfold.errors import KfError
from kfold.explain.run import explain_run
from kfold.train.run import train_run
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace

RUN = "tiny"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synth_data):
    root = tmp_path_factory.mktemp("explain") / "ws"
    shutil.copytree(synth_data, root / "data")
    ws = Workspace.init(root, n_folds=2, image_size=32, seed=0)
    cfg = TrainConfig(n_folds=2, image_size=32, epochs=2, batch_size=16, seed=0, crop=2)
    train_run(ws, cfg, RUN)
    return root


@pytest.fixture
def ws(trained, tmp_path) -> Workspace:
    shutil.copytree(trained, tmp_path / "ws")
    return Workspace.load(tmp_path / "ws")


def test_cli_end_to_end(ws):
    result = CliRunner().invoke(app, ["explain", "--run", RUN, "--n", "6", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    assert "pointing" in result.output and "grid:" in result.output
    meta = artifacts.read_run(ws, RUN)
    ex = meta.explain
    assert ex["method"] == "gradcam" and ex["n"] > 0
    for key in ("pointing_game", "distance_mean", "distance_median", "energy", "iou@0.5"):
        assert ex[key] is not None
    assert 0 <= ex["pointing_game"] <= 1 and ex["images_per_s"] > 0
    assert meta.oof_auc is not None  # the rest of run.json is kept
    grid = ws.root / ex["grid"]
    assert grid.exists() and grid.read_bytes()[:4] == b"\x89PNG"
    per = pd.read_csv(ws.root / ex["per_image"])
    assert len(per) == ex["n"] and per["id"].is_unique


def test_every_image_is_explained_by_a_model_that_never_saw_it(ws):
    cfg = artifacts.read_run(ws, RUN).config
    data = prepare(ws, Preprocess.of(cfg), cfg.image_size)
    row_of = {img.tobytes(): i for i, img in zip(data.train.ids, data.train.images)}
    seen: list[tuple[str, str]] = []

    def spy(run_dir, tag, images, cfg):
        seen.extend((row_of[img.tobytes()], tag) for img in images)
        h = np.zeros(images.shape, np.float32)
        h[:, 5, 5] = 1
        return h

    report = explain_run(ws, RUN, n=8, heatmaps=spy)
    folds = artifacts.read_folds(ws.folds_path).set_index("id")["fold"]
    assert seen and len({i for i, _ in seen}) == len(seen)  # each image once
    for image_id, tag in seen:
        k = int(tag.removeprefix("fold"))
        trained_on = set(folds.index[folds != k])
        assert image_id not in trained_on
    assert (report.per_image["model"] == "fold" + report.per_image["fold"].astype(str)).all()
    boxes = data.dataset.boxes
    defects = set(data.train.ids[data.train_targets == 1])
    assert set(report.per_image["id"]) == set(boxes["id"]) & defects  # every boxed defect


def test_method_and_ids(ws):
    oof = artifacts.read_oof(ws.oof_path(RUN))
    ids = oof["id"].head(3).tolist()
    report = explain_run(ws, RUN, ids=ids, method="gradcam++")
    assert report.shown["id"].tolist() == ids
    assert report.grid.name == "gradcampp.png" and report.grid.exists()
    assert artifacts.read_run(ws, RUN).explain["method"] == "gradcam++"


def test_bad_input_is_one_clear_error(ws):
    runner = CliRunner()
    r = runner.invoke(app, ["explain", "--run", RUN, "--ids", "no-such-id", "-w", str(ws.root)])
    assert r.exit_code == 2 and "not training images" in r.output and "no-such-id" in r.output
    r = runner.invoke(app, ["explain", "--run", "nope", "-w", str(ws.root)])
    assert r.exit_code == 2 and "no run named" in r.output
    r = runner.invoke(app, ["explain", "--run", RUN, "--method", "magic", "-w", str(ws.root)])
    assert r.exit_code == 2 and "unknown --method" in r.output
    (ws.run_dir(RUN) / "fold1.pt").unlink()
    with pytest.raises(KfError, match="no checkpoint.*fold1.pt"):
        explain_run(ws, RUN)


def test_bad_boxes_are_counted_skips(ws):
    path = ws.data_dir / "defect_area.csv"
    boxes = pd.read_csv(path, dtype={"id": str})
    good = boxes.iloc[0].copy()
    boxes.loc[0, ["x_1", "x_2"]] = [30, 10]  # inverted
    boxes.loc[1, "x_2"] = 10_000  # out of range
    boxes = pd.concat([boxes, pd.DataFrame([{**good, "id": "ghost"}])])
    boxes.to_csv(path, index=False)
    report = explain_run(ws, RUN, n=4)
    skipped = report.metrics["skipped_boxes"]
    assert skipped["inverted"] == 1 and skipped["outside the image"] == 1
    assert skipped["unknown id"] == 1
    assert not set(boxes["id"].iloc[:2]) & set(report.per_image["id"])
    assert any("boxes left out" in n for n in report.notes)


def test_no_box_file_gives_heatmaps_without_metrics(ws):
    (ws.data_dir / "defect_area.csv").unlink()
    report = explain_run(ws, RUN, n=3)
    assert report.metrics["n"] == 0 and report.metrics["pointing_game"] is None
    assert report.grid.exists()


def test_a_run_is_explained_by_its_own_backend(ws, monkeypatch):
    calls = []

    class FakeKeras:
        name, explain_methods = "keras", ("gradcam",)

        def checkpoint_files(self, tag):
            return (f"{tag}.pt",)  # the torch run's files stand in for the keras ones

        def heatmaps(self, cfg, run_dir, tag, images, **options):
            calls.append((tag, options["method"]))
            return np.ones(images.shape, np.float32)

    monkeypatch.setitem(backends._LOADERS, "keras", FakeKeras)
    meta = artifacts.read_run(ws, RUN)
    artifacts.write_run(ws, dataclasses.replace(meta, backend="keras"))
    report = explain_run(ws, RUN, n=2)
    assert set(calls) == {("fold0", "gradcam"), ("fold1", "gradcam")}
    assert report.metrics["flat"] == report.metrics["n"]  # constant maps: counted, not scored
    with pytest.raises(KfError, match="gradcam only"):
        explain_run(ws, RUN, method="gradcam++")


def test_bench_reports_images_per_second():
    row = bench_explain(n_images=16, image_size=32, orig_size=64, crop=4, batch_size=8)
    assert row["images"] == 16 and row["images_per_s"] > 0 and row["cam_images_per_s"] > 0
