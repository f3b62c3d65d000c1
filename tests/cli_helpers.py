"""The command line as tests call it: `kf(ws, "stack")` runs `kf stack -w <ws>` in this
process and returns its output, failing the test with that output when it exits non-zero."""

from __future__ import annotations

from typer.testing import CliRunner

from kfold.cli import app
from kfold.workspace import Workspace

runner = CliRunner()


def kf(ws: Workspace, *args: str) -> str:
    result = runner.invoke(app, [*args, "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    return result.output


def graded_workspace(root, epochs: int) -> Workspace:
    """A kappa contest: synthetic chips graded 0 to 4 (severity in fifths), one small CNN
    (`simple-cnn-32px`, 2 folds) trained on them as a regression."""
    import numpy as np
    import pandas as pd

    ws = Workspace.init(root, competition="nexperia-synth", task="regression")
    kf(ws, "data", "synth", "--task", "regression", "--n-train", "60", "--n-test", "12",
       "--size", "32")
    train = pd.read_csv(ws.data_dir / "train.csv")
    train["label"] = np.round(train["label"] / 2.5).astype(int)
    train.to_csv(ws.data_dir / "train.csv", index=False)
    kf(ws, "train", "--model", "simple-cnn", "--image-size", "32", "--epochs", str(epochs),
       "--folds", "2", "--batch-size", "16")
    return ws
