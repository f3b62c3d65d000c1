"""The user's workflow on a Keras run, through the CLI: train, stack with a PyTorch run,
runs table, retrain on 100%, explain (Grad-CAM with a gradient tape); and the bench case."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.backends import FoldData
from kfold.backends.keras import KerasBackend
from kfold.bench.keras import bench_keras_simple_cnn
from kfold.cli import app
from kfold.data.synth import synthesize
from kfold.errors import KfError
from kfold.stack import stack_runs
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace

SIZE = 32
TRAIN = ["train", "--folds", "2", "--epochs", "1", "--image-size", str(SIZE),
         "--batch-size", "16", "--model", "simple-cnn"]


def kf(ws: Workspace, *args: str):
    result = CliRunner().invoke(app, [*args, "--workspace", str(ws.root)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("keras-flow")
    ws = Workspace.init(root, image_size=SIZE, n_folds=2)
    synthesize(ws.data_dir, n_train=48, n_test=10, size=64, seed=5)
    kf(ws, *TRAIN, "--backend", "keras", "--name", "keras-cnn")
    kf(ws, *TRAIN, "--backend", "torch", "--name", "torch-cnn", "--device", "cpu")
    return ws


def test_keras_run_has_the_shared_artifacts(ws):
    meta = artifacts.read_run(ws, "keras-cnn")
    assert meta.backend == "keras" and meta.config.backend == "keras"
    assert (ws.run_dir("keras-cnn") / "fold0.keras").is_file()
    assert meta.folds_fingerprint == artifacts.read_run(ws, "torch-cnn").folds_fingerprint
    out = kf(ws, "runs").output
    assert "keras-cnn" in out and "torch-cnn" in out


def test_keras_and_torch_runs_stack_together(ws):
    aligned = artifacts.load_aligned_oof(ws, ["keras-cnn", "torch-cnn"])
    assert len(aligned) == 48 and {"keras-cnn", "torch-cnn"} <= set(aligned.columns)
    report = stack_runs(ws, ["keras-cnn", "torch-cnn"], blenders=["mean"])
    assert {s.name for s in report.scores if s.kind == "run"} == {"keras-cnn", "torch-cnn"}
    assert all(np.isfinite(s.oof_auc) for s in report.scores)


def test_retrain_a_keras_run(ws):
    kf(ws, "retrain", "--run", "keras-cnn")
    run_dir = ws.run_dir("keras-cnn")
    assert (run_dir / "full.keras").is_file() and not (run_dir / "full.backup").exists()
    full = artifacts.read_test_preds(ws.full_test_path("keras-cnn"))
    assert len(full) == 10 and full["pred"].between(0, 1).all()
    meta = artifacts.read_run(ws, "keras-cnn")
    assert meta.retrain.checkpoint == "full.keras"
    history = pd.read_csv(run_dir / "history_full.csv")
    assert "val_loss" not in history.columns and len(history) == meta.retrain.epochs
    sidecar = json.loads(ws.submission_path("keras-cnn-full").with_suffix(".json").read_text())
    assert sidecar["lineage"]["kind"] == "retrain"


def test_explain_a_keras_run(ws):
    kf(ws, "explain", "--run", "keras-cnn", "--n", "4")
    meta = artifacts.read_run(ws, "keras-cnn")
    assert meta.explain and meta.explain["method"] == "gradcam"
    assert list((ws.run_dir("keras-cnn") / "explain").glob("*.png"))


def test_heatmaps_shape_and_range(ws):
    cfg = artifacts.read_run(ws, "keras-cnn").config
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (5, SIZE, SIZE), dtype=np.uint8)
    heatmaps = KerasBackend().heatmaps
    heat = heatmaps(cfg, ws.run_dir("keras-cnn"), "fold0", images, batch_size=2)
    assert heat.shape == (5, SIZE, SIZE) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1
    assert np.all((heat.reshape(5, -1).max(1) == 0) | np.isclose(heat.reshape(5, -1).max(1), 1))
    with pytest.raises(KfError, match="shaped"):
        heatmaps(cfg, ws.run_dir("keras-cnn"), "fold0", images[:, :16, :16])
    with pytest.raises(KfError, match="no checkpoint .*fold7.keras"):
        heatmaps(cfg, ws.run_dir("keras-cnn"), "fold7", images)


def test_bench_keras_simple_cnn():
    row = bench_keras_simple_cnn(size=SIZE, n=64, batch=16, epochs=1)
    assert row["img/s"] > 0 and row["what"].startswith("keras simple-cnn")


def test_gradcam_points_at_the_defect(tmp_path):
    backend = KerasBackend()
    rng = np.random.default_rng(0)
    n, s = 256, 32
    y = (rng.random(n) < 0.3).astype(int)
    x = rng.integers(0, 60, (n, s, s), dtype=np.uint8)
    pos = rng.integers(2, s - 10, (n, 2))
    for i in np.flatnonzero(y):
        r, c = pos[i]
        x[i, r:r + 8, c:c + 8] = 220  # an 8x8 bright "defect" somewhere
    cfg = TrainConfig(backend="keras", model="simple-cnn", image_size=s, epochs=6,
                      batch_size=32, augment="none")
    backend.train_fold(cfg, FoldData(x[:192], y[:192], x[192:], y[192:]), x[:2], tmp_path, "fold0")
    val = np.flatnonzero(y[192:]) + 192
    heat = backend.heatmaps(cfg, tmp_path, "fold0", x[val])
    peaks = [np.unravel_index(h.argmax(), h.shape) for h in heat]
    hits = sum(r - 2 <= pr < r + 10 and c - 2 <= pc < c + 10
               for (pr, pc), (r, c) in zip(peaks, pos[val]))
    assert hits >= 0.6 * len(val)  # chance: about 0.14


# task -> (the metric kf picks, prediction columns of a run)
TASKS = {"multiclass": ("logloss", 6), "multilabel": ("auc-columns", 5), "regression": ("rmse", 1)}


@pytest.mark.parametrize("task", list(TASKS))
def test_keras_trains_every_task_with_the_contest_metric(task, tmp_path):
    from kfold.data.synth.tasks import synthesize_task
    from kfold.scoring import get_metric

    metric, width = TASKS[task]
    synthesize_task(tmp_path / "data", task, n_train=40, n_test=6, size=32, seed=0)
    ws = Workspace.init(tmp_path, n_folds=2)
    kf(ws, *TRAIN[:4], "2", *TRAIN[5:], "--backend", "keras", "--name", "k")
    meta = artifacts.read_run(ws, "k")
    assert (meta.task, meta.metric, meta.backend) == (task, metric, "keras")
    columns = artifacts.pred_columns(task, meta.classes)
    oof = artifacts.read_oof(ws.oof_path("k"), task)
    assert len(columns) == width and len(oof) == 40
    if task == "multiclass":
        np.testing.assert_allclose(oof[columns].sum(axis=1), 1.0, atol=1e-4)
    best = get_metric(metric).best
    for fold in meta.folds:  # the kept epoch is the best validation score in its direction
        history = pd.read_csv(ws.run_dir("k") / f"history_fold{fold.fold}.csv")
        assert fold.best_epoch == best(history["score"].tolist())
        assert fold.val_auc == pytest.approx(history["score"][fold.best_epoch])
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv")
    assert list(pd.read_csv(ws.submission_path("k")).columns) == list(sample.columns)
