"""Bad input, one row each: how the workspace is broken, the command, the message it must
print. Every row is refused with one `error:` line, exit code 2, no traceback, and leaves
every file as it was and no new run folder (tests/bad_input.py checks all of that)."""

from __future__ import annotations

import shutil

import pytest

from kfold.workspace import Workspace
from tests.bad_input import BadInput, check, run_kf

RUN = "r1"
TRAIN = ["train", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture(scope="session")
def trained_ws(tmp_path_factory, synth_data) -> Workspace:
    """A workspace with one finished 2-fold run `r1` (made once per session)."""
    root = tmp_path_factory.mktemp("bad-input") / "ws"
    shutil.copytree(synth_data, root / "data")
    ws = Workspace.init(root, n_folds=2, image_size=32, seed=0)
    result = run_kf([*TRAIN, "--name", RUN], ws)
    assert result.exit_code == 0, result.output
    return ws


@pytest.fixture
def ws(trained_ws, tmp_path) -> Workspace:
    shutil.copytree(trained_ws.root, tmp_path / "ws", symlinks=True)
    return Workspace.load(tmp_path / "ws")


OPTION_RANGES = [
    BadInput("folds-0", [*TRAIN, "--folds", "0"], "--folds must be a whole number from 2"),
    BadInput("folds-1", [*TRAIN, "--folds", "1"], "--folds must be a whole number from 2"),
    BadInput("image-size-0", [*TRAIN, "--image-size", "0"], "--image-size must be"),
    BadInput("image-size-huge", [*TRAIN, "--image-size", "100000"], "--image-size must be"),
    BadInput("pos-weight-negative", [*TRAIN, "--pos-weight", "-1"], "--pos-weight must be"),
    BadInput("lr-negative", [*TRAIN, "--lr", "-1"], "--lr must be a number in (0, 10]"),
    BadInput("lr-nan", [*TRAIN, "--lr", "nan"], "--lr must be a number in (0, 10], got nan"),
    BadInput("weight-decay-negative", [*TRAIN, "--weight-decay", "-1"], "--weight-decay must"),
    BadInput("dropout-above-1", [*TRAIN, "--dropout", "1.5"], "--dropout must be a number in [0, 1)"),
    BadInput("seed-negative", [*TRAIN, "--seed", "-1"], "--seed must be a whole number"),
    BadInput("epochs-0", [*TRAIN[:1], "--epochs", "0"], "--epochs must be"),
    BadInput("batch-size-0", [*TRAIN, "--batch-size", "0"], "--batch-size must be"),
    BadInput("device-bogus", [*TRAIN, "--device", "bogus"], "--device must be auto, cpu, cuda"),
]

RUN_NAMES = [
    BadInput("name-dotdot-force", [*TRAIN, "--name", "..", "--force"], "not a valid name"),
    BadInput("name-dot-force", [*TRAIN, "--name", ".", "--force"], "not a valid name"),
    BadInput("name-parent-path", [*TRAIN, "--name", "../evil"], "a name, not a path"),
    BadInput("name-absolute-path", [*TRAIN, "--name", "/tmp/kf-evil"], "a name, not a path"),
    BadInput("name-subfolder", [*TRAIN, "--name", "x/y"], "a name, not a path"),
    BadInput("name-hidden", [*TRAIN, "--name", ".r1"], "not starting with '.'"),
    BadInput("name-empty", [*TRAIN, "--name", ""], "not a valid name"),
    BadInput("name-300-chars", [*TRAIN, "--name", "n" * 300], "(300 characters)"),
    BadInput("name-85-chars", [*TRAIN, "--name", "n" * 85], "use at most 80"),
    BadInput("name-of-a-stack", [*TRAIN, "--name", "stack-mean"], "kept for `kf stack`"),
    BadInput("name-of-a-retrain-file", [*TRAIN, "--name", f"{RUN}-full"], "share files"),
    BadInput("name-of-a-test-file", [*TRAIN, "--name", f"{RUN}.test"], "share files"),
    BadInput("retrain-run-path", ["retrain", "--run", f"../models/{RUN}"], "a name, not a path"),
    BadInput("explain-run-path", ["explain", "--run", f"../models/{RUN}"], "a name, not a path"),
    BadInput("stack-runs-path", ["stack", "--runs", f"{RUN},../oof/{RUN}"], "a name, not a path"),
]


@pytest.mark.parametrize("row", OPTION_RANGES + RUN_NAMES, ids=str)
def test_bad_input_is_refused_and_changes_nothing(ws, row):
    check(row, ws)
