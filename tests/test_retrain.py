"""`kf retrain`: 100% of the training data, epochs from the folds, artifacts and refusals."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.cli import app
from kfold.errors import KfError
from kfold.train.retrain import retrain_epochs, retrain_run
from kfold.train.run import train_run
from kfold.train_config import TrainConfig
from tests.record_helpers import fold_result
from tests.test_resume import Interrupted, StopAfter


@pytest.fixture
def trained(workspace):
    cfg = TrainConfig(n_folds=2, image_size=32, epochs=2, batch_size=16, seed=0, tta="flip")
    return workspace, train_run(workspace, cfg, "r")


def test_retrain_writes_full_checkpoint_test_predictions_and_a_retrain_submission(trained):
    ws, meta = trained
    out = retrain_run(ws, "r")
    info = out.retrain
    assert info.epochs == retrain_epochs(meta.folds)
    assert "mean(best_epoch + 1)" in info.epochs_rule
    assert info.n_train == 60 and info.cv_auc == meta.oof_auc
    assert (ws.run_dir("r") / "full.pt").exists() and info.checkpoint == "full.pt"
    assert not (ws.run_dir("r") / "full.last.pt").exists()
    test = artifacts.read_test_preds(ws.full_test_path("r"))
    assert list(test.columns) == ["id", "pred"] and len(test) == 16
    assert json.loads(ws.run_json("r").read_text())["retrain"]["epochs"] == info.epochs
    sidecar = json.loads((ws.submissions_dir / "r-full.json").read_text())
    assert sidecar["lineage"]["kind"] == "retrain" and sidecar["lineage"]["runs"] == ["r"]
    assert sidecar["cv_auc"] == meta.oof_auc
    history = np.genfromtxt(ws.run_dir("r") / "history_full.csv", delimiter=",", names=True)
    assert len(np.atleast_1d(history)) == info.epochs
    assert "auc" not in history.dtype.names  # no validation set


def test_epochs_rule():
    def folds(*best, collapsed=()):
        return [fold_result(k, 0.7, best_epoch=b, collapsed="constant" if k in collapsed else None)
                for k, b in enumerate(best)]

    assert retrain_epochs(folds(4, 6)) == 6
    assert retrain_epochs(folds(0, 0)) == 1
    assert retrain_epochs(folds(1, 2)) == 3  # 2.5 rounds up
    assert retrain_epochs(folds(9, 2, collapsed=[0])) == 3
    with pytest.raises(KfError, match="every fold of this run collapsed"):
        retrain_epochs(folds(1, collapsed=[0]))


def test_retrain_resumes_after_an_interruption_and_matches_a_clean_retrain(workspace):
    cfg = TrainConfig(n_folds=2, image_size=32, epochs=3, batch_size=16, seed=0, patience=5)
    meta = train_run(workspace, cfg, "r")
    for fold in meta.folds:
        fold.best_epoch = 2  # force a 3-epoch retrain
    artifacts.write_run(workspace, meta)
    clean = retrain_run(workspace, "r")
    want = artifacts.read_test_preds(workspace.full_test_path("r"))["pred"].to_numpy()
    read_back = retrain_run(workspace, "r")  # finished: its result and predictions read back
    assert (read_back.retrain.seconds, read_back.retrain.device, read_back.retrain.where) == \
        (clean.retrain.seconds, clean.retrain.device, clean.retrain.where)
    np.testing.assert_array_equal(
        artifacts.read_test_preds(workspace.full_test_path("r"))["pred"].to_numpy(), want)
    for name in ("full.result.json", "full.preds.npz", "full.pt"):
        (workspace.run_dir("r") / name).unlink()
    with pytest.raises(Interrupted):
        retrain_run(workspace, "r", StopAfter("full", 2))
    assert (workspace.run_dir("r") / "full.last.pt").exists()
    again = retrain_run(workspace, "r")
    got = artifacts.read_test_preds(workspace.full_test_path("r"))["pred"].to_numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert again.retrain.epochs == clean.retrain.epochs == 3


def test_retrain_refuses_runs_without_finished_folds(workspace):
    with pytest.raises(KfError, match="no finished folds to retrain from"):
        retrain_run(workspace, "ghost")
    cfg = TrainConfig(n_folds=2, image_size=32, epochs=1, batch_size=16, seed=0)
    with pytest.raises(Interrupted):
        train_run(workspace, cfg, "half", reporter=StopAfter("fold1", 1))
    with pytest.raises(KfError, match=r"has 1 of 2 folds finished; finish it first"):
        retrain_run(workspace, "half")
    assert not workspace.full_test_path("half").exists()


def test_cli_retrain(trained):
    ws, _ = trained
    runner = CliRunner()
    res = runner.invoke(app, ["retrain", "-w", str(ws.root), "--run", "nope"])
    assert res.exit_code == 2 and "no finished folds" in res.output
    res = runner.invoke(app, ["retrain", "-w", str(ws.root), "--run", "r"])
    assert res.exit_code == 0, res.output
    assert "retrained on 60 images" in res.output and "r-full.csv" in res.output
