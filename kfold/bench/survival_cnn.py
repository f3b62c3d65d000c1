"""Bench case `survival-cnn`: the track record of `survival`, measured on trained CNNs.

`survival` simulates the runs' predictions; this case trains them. For each data seed it
synthesises the demo's contest (1,000 training and 600 test images, difficulty 0.3), trains
the demo's three runs on it (`kfold.demo.RUNS`: the small CNN and EfficientNet-Lite0 from two
seeds, 3 folds), stacks them with every blender as `kf stack` does, and sets the best stack's
OOF gain over the best run against its gain on all 600 test labels (data/solution.csv). A
seed trains what the demo's steps 2 and 3 train (115-146 s on the idle 2-core machine).
Each seed's workspace is kept under the bench folder, so an interrupted bench resumes at
the fold it stopped in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kfold.bench.survival import gains
from kfold.data.sources import discover
from kfold.data.synth import synthesize
from kfold.kaggle.sandbox.scoring import load_solution
from kfold.progress import Reporter
from kfold.train.run import plan_run, train_runs
from kfold.workspace import Workspace

SEEDS = 8  # data seeds 0..7: about 20 minutes on 2 cores


def test_labels(ws: Workspace) -> np.ndarray:
    """The test images' labels in id order, as `gains` reads the test predictions."""
    cfg = ws.config
    solution = load_solution(ws.data_dir / "solution.csv", cfg.id_column, cfg.target_column)
    return solution.sort_values(cfg.id_column)[cfg.target_column].to_numpy()


def train_case(root: Path, seed: int, *, n_train: int = 1000, n_test: int = 600,
               epochs: int | None = None, reporter: Reporter = Reporter()) -> dict:
    """Train the demo's runs on data seed `seed` in `root` (resumable) and return the best
    run, the best stack and their OOF and test gains."""
    from kfold.demo import DEMO_CONFIG, DIFFICULTY, RUNS, with_epochs

    ws = Workspace.init(root, **DEMO_CONFIG)
    if not ws.data_dir.exists():
        synthesize(ws.data_dir, n_train=n_train, n_test=n_test, size=267,
                   difficulty=DIFFICULTY, seed=seed)
    dataset = discover(ws)
    plans = [plan_run(ws, with_epochs(cfg, epochs), name, dataset=dataset)
             for name, cfg in RUNS]
    train_runs(ws, plans, reporter=reporter)
    gain = gains(ws, test_labels(ws))
    return {"data_seed": seed, "best_run": gain.run, "best_stack": gain.stack,
            "oof_gain": round(gain.oof, 5), "test_gain": round(gain.test, 5),
            "held": gain.test > 0}


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """Data seeds 0 .. SEEDS - 1, each in its own folder under the bench workspace."""
    return [{"case": "survival-cnn", **train_case(ws.root / "survival-cnn" / f"seed{seed}",
                                                  seed)}
            for seed in range(SEEDS)]
