"""Resume inside a fold: a run interrupted after an epoch and re-run with the same command ends
with the same artifacts as an uninterrupted run (history, best epoch, checkpoint, OOF)."""

from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
import torch

from kfold import artifacts
from kfold.backends import FoldData
from kfold.backends.torch.loop import fit_epochs
from kfold.progress import Reporter, Task
from kfold.train.run import train_run
from kfold.train_config import TrainConfig


class Interrupted(Exception):
    pass


class StopAfter(Reporter):
    """Raise (as a kill would) once `epochs` epochs of task `tag` have finished; an epoch has
    finished when the loop reports its loss, after it saved `<tag>.last.pt`."""

    def __init__(self, tag: str, epochs: int):
        self.tag, self.left = tag, epochs

    @contextmanager
    def task(self, description, total):
        outer = self

        class Bar(Task):
            def advance(self, n=1, **fields):
                if description == outer.tag and "loss" in fields:
                    outer.left -= 1
                    if outer.left == 0:
                        raise Interrupted(description)

        yield Bar()


@pytest.mark.parametrize("model, extra", [
    ("simple-cnn", {}),
    ("resnet10t", {"unfreeze_after": 1, "tta": "flip"}),
    ("resnet10t", {"ema": 0.9, "mixup": 0.4, "cutmix": 1.0, "mix_prob": 0.7,
                   "label_smoothing": 0.1, "warmup_epochs": 1, "grad_accum": 2,
                   "drop_path": 0.1}),
])
def test_fold_interrupted_after_an_epoch_resumes_to_the_same_result(tmp_path, model, extra):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (48, 32, 32), dtype=np.uint8)
    y = (np.arange(48) % 3 == 0).astype(float)
    data = FoldData(x[:32], y[:32], x[32:], y[32:])
    cfg = TrainConfig(model=model, image_size=32, epochs=3, batch_size=8, patience=5,
                      dropout=0.3, augment="d4", **extra)
    cpu = torch.device("cpu")
    clean, broken = tmp_path / "clean", tmp_path / "broken"
    clean.mkdir(), broken.mkdir()
    want = fit_epochs(cfg, data, clean, "f", cpu)

    with pytest.raises(Interrupted):
        fit_epochs(cfg, data, broken, "f", cpu, StopAfter("f", 1))
    assert (broken / "f.last.pt").exists()
    assert torch.load(broken / "f.last.pt", weights_only=False)["state"]["epoch"] == 1
    got = fit_epochs(cfg, data, broken, "f", cpu)

    for key in ("best_epoch", "epochs_run", "val_auc"):
        assert got[key] == want[key]
    pd.testing.assert_frame_equal(pd.read_csv(broken / "history_f.csv"),
                                  pd.read_csv(clean / "history_f.csv"), rtol=1e-6)
    a = torch.load(clean / "f.pt", weights_only=False)
    b = torch.load(broken / "f.pt", weights_only=False)
    assert a["epoch"] == b["epoch"]
    for k, v in a["model"].items():
        assert torch.allclose(v.float(), b["model"][k].float(), atol=1e-6), k


def test_kfold_run_killed_mid_fold_and_rerun_matches_a_clean_run(workspace):
    cfg = TrainConfig(n_folds=2, image_size=32, epochs=3, batch_size=16, seed=0, patience=5)
    clean = train_run(workspace, cfg, "clean")
    with pytest.raises(Interrupted):
        train_run(workspace, cfg, "again", reporter=StopAfter("fold1", 2))
    run_dir = workspace.run_dir("again")
    assert (run_dir / "fold0.result.json").exists() and (run_dir / "fold1.last.pt").exists()
    assert not (run_dir / "fold1.result.json").exists()
    again = train_run(workspace, cfg, "again")
    for a, b in zip(clean.folds, again.folds):
        for key in ("best_epoch", "epochs_run", "auc", "tp", "fp", "tn", "fn"):
            assert getattr(a, key) == getattr(b, key), key
    oof_a = artifacts.read_oof(workspace.oof_path("clean"))
    oof_b = artifacts.read_oof(workspace.oof_path("again"))
    np.testing.assert_allclose(oof_a["pred"], oof_b["pred"], atol=1e-6)
    assert again.oof_auc == pytest.approx(clean.oof_auc)
    assert not (run_dir / "fold1.last.pt").exists()
