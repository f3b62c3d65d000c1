"""A stand-in for fold training in kf tune's tests: `kfold.execute.train_job` replaced by a
function whose validation AUC follows the learning rate (lr 1e-2 near 1, lr 1e-4 near 0.5),
so a study has a known answer; the trials still go through plan_run, train_runs and the
executor. Run as a script, it is a kf tune process that stops (for a kill -9) on a fold."""

from __future__ import annotations

import math
import sys
import time
import zlib
from pathlib import Path

import numpy as np

QUALITY = {1e-2: 0.9, 1e-3: 0.45, 1e-4: 0.0}  # how much of the label a prediction holds


def quality(lr: float) -> float:
    return QUALITY.get(lr, min(0.9, max(0.0, 0.225 * (math.log10(lr) + 4))))


class FakeTraining:
    """Records every (run, tag) it trains; `hang_on` = (run, tag) blocks there, after writing
    `ready` (the parent then kills the process)."""

    def __init__(self, hang_on: tuple[str, str] | None = None, ready: Path | None = None,
                 pause: float = 0.0) -> None:
        self.trained: list[tuple[str, str]] = []
        self.hang_on, self.ready, self.pause = hang_on, ready, pause

    def __call__(self, job, arrays, run_dir, reporter, cpus=None):
        from kfold.metrics import auc
        from kfold.record import FoldResult

        if (job.run, job.tag) == self.hang_on:
            self.ready.write_text("training")
            time.sleep(600)
        time.sleep(self.pause)
        self.trained.append((job.run, job.tag))
        rng = np.random.default_rng(zlib.crc32(f"{job.run}/{job.tag}".encode()))
        y = arrays.targets[job.val_rows].astype(float)
        val = 0.5 + quality(job.cfg.lr) * (y - 0.5) + rng.normal(0, 0.3, len(y))
        val = np.clip(val, 0.0, 1.0)
        test = rng.uniform(0, 1, len(arrays.test))
        return FoldResult(best_epoch=0, epochs_run=1, val_auc=auc(y, val), seconds=0.0,
                          collapsed=None, device="cpu", val_pred=val, test_pred=test)


if __name__ == "__main__":  # python tune_helpers.py WORKSPACE SPACE RUN TAG READY
    import kfold.execute
    from kfold.tune import Search, run_tune
    from kfold.workspace import Workspace

    root, space, run, tag, ready = sys.argv[1:6]
    kfold.execute.train_job = FakeTraining((run, tag), Path(ready))
    run_tune(Workspace.load(root), Path(space), Search("s", trials=3, sampler_seed=0))
