"""A k-fold run end to end: artifacts exactly as docs/architecture.md says, resume, refusals."""

import dataclasses
import json

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from kfold import artifacts
from kfold.data.sources import discover
from kfold.errors import KfError
from kfold.stats import to_fold_scale
from kfold.train.run import train_run


@pytest.fixture
def trained(workspace, tiny_cfg):
    return workspace, tiny_cfg, train_run(workspace, tiny_cfg, "r")


def test_oof_has_every_training_id_once_and_its_aucs_are_in_run_json(trained):
    ws, cfg, meta = trained
    oof = artifacts.read_oof(ws.oof_path("r"))
    train = discover(ws).train
    assert sorted(oof["id"]) == sorted(train["id"])
    assert meta.oof_auc_pooled == pytest.approx(roc_auc_score(oof["target"], oof["pred"]))
    on_scale = to_fold_scale(oof["pred"], oof["fold"])  # the CV every command ranks by
    assert meta.oof_auc == pytest.approx(roc_auc_score(oof["target"], on_scale))
    assert json.loads(ws.run_json("r").read_text())["oof_auc"] == meta.oof_auc
    folds = artifacts.read_folds(ws.folds_path)
    assert meta.folds_fingerprint == artifacts.folds_fingerprint(folds)
    assert artifacts.folds_fingerprint(oof) == meta.folds_fingerprint


def test_test_predictions_checkpoints_history_and_submission(trained):
    ws, cfg, meta = trained
    test = artifacts.read_test_preds(ws.test_path("r"))
    assert list(test.columns) == ["id", "pred_fold0", "pred_fold1", "pred"]
    assert test["pred"].tolist() == pytest.approx(test[["pred_fold0", "pred_fold1"]].mean(1).tolist())
    for k in range(2):
        assert (ws.run_dir("r") / f"fold{k}.pt").exists()
        history = pd.read_csv(ws.run_dir("r") / f"history_fold{k}.csv")
        assert {"train_loss", "val_loss", "auc", "accuracy", "precision", "recall",
                "tp", "fp", "tn", "fn"} <= set(history.columns)
        assert not (ws.run_dir("r") / f"fold{k}.last.pt").exists()
    assert (ws.run_dir("r") / "curves.png").stat().st_size > 1000
    sub = pd.read_csv(meta.submission, dtype={"id": str})
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})
    assert sub["id"].tolist() == sample["id"].tolist()
    sidecar = json.loads((ws.submissions_dir / "r.json").read_text())
    assert sidecar["cv_auc"] == meta.oof_auc and sidecar["lineage"]["kind"] == "fold-mean"


def test_rerun_skips_finished_folds_and_retrains_a_lost_one(trained):
    ws, cfg, meta = trained
    run_dir = ws.run_dir("r")
    fold0_mtime = (run_dir / "fold0.pt").stat().st_mtime_ns
    (run_dir / "fold1.result.json").unlink()  # as if killed before fold 1 finished
    again = train_run(ws, cfg, "r")
    assert (run_dir / "fold0.pt").stat().st_mtime_ns == fold0_mtime
    assert again.folds[0] == meta.folds[0]
    assert len(artifacts.read_oof(ws.oof_path("r"))) == len(discover(ws).train)


def test_force_retrains_and_other_settings_are_refused(trained):
    ws, cfg, _ = trained
    with pytest.raises(KfError, match="exists with other settings"):
        train_run(ws, dataclasses.replace(cfg, lr=0.5), "r")
    fold0_mtime = (ws.run_dir("r") / "fold0.pt").stat().st_mtime_ns
    train_run(ws, dataclasses.replace(cfg, lr=0.5), "r", force=True)
    assert (ws.run_dir("r") / "fold0.pt").stat().st_mtime_ns != fold0_mtime


def test_skip_bad_leaves_unreadable_images_out(workspace, tiny_cfg):
    train = discover(workspace).train
    with open(train["path"].iat[0], "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(KfError, match="--skip-bad"):
        train_run(workspace, tiny_cfg, "r")
    meta = train_run(workspace, tiny_cfg, "r", skip_bad=True)
    assert meta.skipped_images == [train["id"].iat[0]]
    assert len(artifacts.read_oof(workspace.oof_path("r"))) == len(train) - 1


def test_two_cpu_trainings_with_the_same_seeds_predict_identically(tmp_path, synth_data,
                                                                    tiny_cfg):
    """Determinism on CPU: same data, seeds and config give the same bytes of predictions
    (README, "Numbers that reproduce", says what varies on a GPU)."""
    import shutil

    import numpy as np

    from kfold.workspace import Workspace

    preds = []
    for copy in ("a", "b"):
        shutil.copytree(synth_data, tmp_path / copy / "data")
        ws = Workspace.init(tmp_path / copy, n_folds=2, image_size=32, seed=0)
        train_run(ws, tiny_cfg, "r")
        oof = artifacts.read_oof(ws.oof_path("r"))
        test = artifacts.read_test_preds(ws.test_path("r"))
        preds.append((oof["pred"].to_numpy(), test.filter(like="pred").to_numpy()))
    assert np.array_equal(preds[0][0], preds[1][0]) and np.array_equal(preds[0][1], preds[1][1])


def test_one_kf_train_scans_the_data_sources_once(workspace, tiny_cfg, monkeypatch):
    from kfold.data import sources
    from kfold.execute import LocalExecutor

    class Stop(Exception):
        pass

    class StopBeforeTraining(LocalExecutor):
        def run(self, jobs, arrays, run_dirs, on_done, reporter):
            raise Stop

    scans, real = [], sources.discover
    for target in ("kfold.train.run.discover", "kfold.data.prepared.discover"):
        monkeypatch.setattr(target, lambda ws: scans.append(ws) or real(ws))
    with pytest.raises(Stop):
        train_run(workspace, tiny_cfg, "r", executor=StopBeforeTraining())
    assert len(scans) == 1
