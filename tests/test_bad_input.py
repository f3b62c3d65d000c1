"""Bad input, one row each: how the workspace is broken, the command, the message it must
print. Every row is refused with one `error:` line, exit code 2, no traceback, and leaves
every file as it was and no new run folder (tests/bad_input.py checks all of that)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kfold.workspace import Workspace
from tests.bad_input import BadInput, Damage, check, raising, run_kf

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
    BadInput("folds-0", [*TRAIN, "--folds", "0"], "--folds 0 must be a whole number from 2"),
    BadInput("folds-1", [*TRAIN, "--folds", "1"], "--folds 1 must be a whole number from 2"),
    BadInput("image-size-0", [*TRAIN, "--image-size", "0"], "--image-size 0 must be"),
    BadInput("image-size-huge", [*TRAIN, "--image-size", "100000"],
             "--image-size 100000 must be a whole number from 8 to 2048"),
    BadInput("pos-weight-negative", [*TRAIN, "--pos-weight", "-1"], "--pos-weight -1.0 must be"),
    BadInput("lr-negative", [*TRAIN, "--lr", "-1"], "--lr -1.0 must be a number in (0, 10]"),
    BadInput("lr-nan", [*TRAIN, "--lr", "nan"], "--lr nan must be a number in (0, 10]"),
    BadInput("weight-decay-negative", [*TRAIN, "--weight-decay", "-1"], "--weight-decay -1.0 must"),
    BadInput("dropout-above-1", [*TRAIN, "--dropout", "1.5"], "--dropout 1.5 must be a number in [0, 1)"),
    BadInput("seed-negative", [*TRAIN, "--seed", "-1"], "--seed -1 must be a whole number"),
    BadInput("epochs-0", [*TRAIN[:1], "--epochs", "0"], "--epochs 0 must be"),
    BadInput("batch-size-0", [*TRAIN, "--batch-size", "0"], "--batch-size 0 must be"),
    BadInput("device-bogus", [*TRAIN, "--device", "bogus"], "--device bogus must be auto, cpu, cuda"),
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

EXECUTORS = [
    BadInput("executor-unknown", [*TRAIN, "--executor", "spark"], "unknown --executor 'spark'"),
    BadInput("gpus-per-fold-local", [*TRAIN, "--gpus-per-fold", "1"],
             "--gpus-per-fold only apply with --executor ray"),
    BadInput("address-local", ["retrain", "--run", RUN, "--address", "auto"],
             "--address only apply with --executor ray"),
    BadInput("gpus-per-fold-negative", [*TRAIN, "--executor", "ray", "--gpus-per-fold", "-1"],
             "--gpus-per-fold must be 0 or more"),
    BadInput("cpus-per-fold-nan", [*TRAIN, "--executor", "ray", "--cpus-per-fold", "nan"],
             "--cpus-per-fold must be 0 or more"),
    BadInput("cpus-per-fold-local-negative", [*TRAIN, "--cpus-per-fold", "-1"],
             "--cpus-per-fold must be 0 or more"),
    BadInput("gpus-per-fold-1.5", [*TRAIN, "--executor", "ray", "--gpus-per-fold", "1.5"],
             "above 1 must be a whole number"),
    BadInput("address-malformed", [*TRAIN, "--executor", "ray", "--address", "headnode"],
             "--address must be HOST:PORT"),
    BadInput("address-unreachable", [*TRAIN, "--executor", "ray", "--address", "127.0.0.1:9"],
             "cannot reach a Ray cluster at --address 127.0.0.1:9"),
    BadInput("grid-file-missing", ["grid", "no-such-grid.toml"], "grid file no-such-grid.toml not found"),
]



def _corrupt_first_image(ws: Workspace) -> None:
    next(ws.data_dir.glob("train/*/*.jpg")).write_bytes(b"not a jpeg")


def _live_lock(ws: Workspace, path: Path | None = None) -> None:
    """r1 (or the lock at `path`) locked by a process that is alive (this one)."""
    path = path or ws.models_dir / f".{RUN}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n{socket.gethostname()}\n")


def _garble(rel: str, data: bytes = b"\x00garbage{") -> Damage:
    def damage(ws: Workspace) -> None:
        path = ws.root / rel
        path.write_bytes(data)

    return damage


def _truncate(rel: str) -> Damage:
    def damage(ws: Workspace) -> None:
        path = ws.root / rel
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return damage


def _stacking(ws: Workspace) -> None:
    """A second run to stack (a copy of r1's predictions), and `kf stack` busy elsewhere."""
    for src, dst in ((ws.oof_path(RUN), ws.oof_path("r1b")), (ws.test_path(RUN), ws.test_path("r1b"))):
        shutil.copy(src, dst)
    _live_lock(ws, ws.oof_dir / ".stack.lock")


def _folder(rel: str) -> Damage:
    """A folder where kf expects a file."""
    def damage(ws: Workspace) -> None:
        path = ws.root / rel
        path.unlink(missing_ok=True)
        path.mkdir()

    return damage


def _edit_json(rel: str, **values) -> Damage:
    """Valid JSON with values of the wrong type or meaning."""
    def damage(ws: Workspace) -> None:
        path = ws.root / rel
        path.write_text(json.dumps(json.loads(path.read_text()) | values))

    return damage


def _edit_parquet(rel: str, **columns) -> Damage:
    def damage(ws: Workspace) -> None:
        path = ws.root / rel
        pd.read_parquet(path).assign(**columns).to_parquet(path, index=False)

    return damage


NO_CUDA = (("torch.cuda.is_available", lambda: False), ("torch.cuda.device_count", lambda: 0))
FULL_DISK = (("kfold.atomic.os.fsync", raising(errno.ENOSPC)),)
READ_ONLY = (("kfold.atomic.tempfile.mkstemp", raising(errno.EROFS, "models/x")),)

BEFORE_ANY_WORK = [
    BadInput("seed-other-than-folds-csv", [*TRAIN, "--seed", "7"], "not made with --seed 7"),
    BadInput("folds-other-than-folds-csv", [*TRAIN, "--folds", "3", "--name", "r3"],
             "has 2 folds but --folds 3"),
    BadInput("force-with-unreadable-image", [*TRAIN, "--name", RUN, "--force"],
             "unreadable training image", damage=_corrupt_first_image, may_write=[".cache*"]),
    BadInput("train-device-cuda-without-gpu", [*TRAIN, "--device", "cuda"],
             "no CUDA GPU is available", patches=NO_CUDA),
    BadInput("retrain-device-cuda-without-gpu", ["retrain", "--run", RUN, "--device", "cuda"],
             "no CUDA GPU is available", patches=NO_CUDA),
    BadInput("explain-device-cuda-without-gpu", ["explain", "--run", RUN, "--device", "cuda"],
             "no CUDA GPU is available", patches=NO_CUDA),
    BadInput("retrain-device-bogus", ["retrain", "--run", RUN, "--device", "bogus"],
             "--device bogus must be auto, cpu, cuda"),
    BadInput("explain-device-bogus", ["explain", "--run", RUN, "--device", "bogus"],
             "--device bogus must be auto, cpu, cuda"),
    BadInput("run-locked-by-a-live-process", [*TRAIN, "--name", RUN], "in use by kf process",
             damage=_live_lock),
]

WORKSPACES = [
    BadInput("workspace-is-a-file", ["runs", "--workspace", "{ws}/kfold.toml"], "is a file",
             workspace_option=False),
    BadInput("kf-workspace-does-not-exist", ["runs"], "does not exist",
             env={"KF_WORKSPACE": "{ws}/no-such-folder"}, workspace_option=False),
    BadInput("full-disk-folds", ["folds", "--seed", "3", "--force"], "no space left to write",
             patches=FULL_DISK),
    BadInput("full-disk-train", [*TRAIN, "--name", RUN], "free on that disk",
             patches=FULL_DISK),
    BadInput("read-only-new-run", [*TRAIN, "--name", "r2"], "Read-only file system",
             patches=READ_ONLY),
    BadInput("full-disk-lock-file", [*TRAIN, "--name", "r2"], "no space left to write",
             patches=(("kfold.locks.os.write", raising(errno.ENOSPC)),)),
    BadInput("read-only-lock-file", ["retrain", "--run", RUN], "Read-only file system",
             patches=(("kfold.locks.os.open", raising(errno.EROFS)),)),
]

DAMAGED_FILES = [
    BadInput("run-json-truncated-retrain", ["retrain", "--run", RUN], "run.json is damaged",
             damage=_truncate(f"models/{RUN}/run.json")),
    BadInput("run-json-garbage-explain", ["explain", "--run", RUN], "run.json is damaged",
             damage=_garble(f"models/{RUN}/run.json")),
    BadInput("config-json-garbage", [*TRAIN, "--name", RUN], "config.json is damaged",
             damage=_garble(f"models/{RUN}/config.json")),
    BadInput("config-json-wrong-values", [*TRAIN, "--name", RUN], "config.json is damaged",
             damage=_garble(f"models/{RUN}/config.json", b'{"lr": -5}')),
    BadInput("oof-parquet-truncated", ["explain", "--run", RUN], f"{RUN}.parquet is damaged",
             damage=_truncate(f"oof/{RUN}.parquet")),
    BadInput("checkpoint-garbage", ["explain", "--run", RUN, "--n", "4"],
             "fold0.pt is damaged", damage=_garble(f"models/{RUN}/fold0.pt")),
    BadInput("run-json-is-a-folder", ["runs"], "run.json cannot be read",
             damage=_folder(f"models/{RUN}/run.json")),
    BadInput("run-json-wrong-type", ["runs"], "oof_auc = 'high' is not a number",
             damage=_edit_json(f"models/{RUN}/run.json", oof_auc="high")),
    BadInput("run-json-config-not-an-object", ["retrain", "--run", RUN], "run.json is damaged",
             damage=_edit_json(f"models/{RUN}/run.json", config=[])),
    BadInput("run-json-of-another-run", ["retrain", "--run", RUN], "it names run 'r9'",
             damage=_edit_json(f"models/{RUN}/run.json", name="r9")),
    BadInput("config-json-is-a-folder", [*TRAIN, "--name", RUN], "config.json cannot be read",
             damage=_folder(f"models/{RUN}/config.json")),
    BadInput("oof-parquet-text-predictions", ["shakeup", "--n", "20"],
             "prediction(s) are NaN or outside [0, 1] (first: ['a'",
             damage=_edit_parquet(f"oof/{RUN}.parquet", pred="a")),
    BadInput("oof-parquet-text-folds", ["runs", "--corr"], "fold = 'x' is not valid",
             damage=_edit_parquet(f"oof/{RUN}.parquet", fold="x")),
    BadInput("test-parquet-truncated", ["shakeup", "--n", "20"], f"{RUN}.test.parquet is damaged",
             damage=_truncate(f"oof/{RUN}.test.parquet")),
    BadInput("toml-not-utf8", ["runs"], "kfold.toml: not valid TOML (not UTF-8 text)",
             damage=_garble("kfold.toml", b"\xff\xfen_folds = 2")),
    BadInput("toml-is-a-folder", ["runs"], "kfold.toml cannot be read",
             damage=_folder("kfold.toml")),
    BadInput("solution-csv-garbage", ["shakeup", "--n", "20"], "solution.csv is not a readable",
             damage=_garble("data/solution.csv", b"\xff\xfe\x00\x01" * 50)),
    BadInput("lock-is-a-folder", [*TRAIN, "--name", RUN], "is a folder where kf keeps the lock",
             damage=_folder(f"models/.{RUN}.lock")),
    BadInput("explain-while-training", ["explain", "--run", RUN, "--n", "4"],
             "in use by kf process", damage=_live_lock),
    BadInput("stack-while-stacking", ["stack", "--blender", "mean"], "kf stack is in use",
             damage=_stacking),
]

def _toml_fraction(ws: Workspace) -> None:
    with open(ws.root / "kfold.toml", "a") as fh:
        fh.write('public_fraction = "abc"\n')


DECISIONS = [
    *(BadInput(f"shakeup-fraction-{v}", ["shakeup", "--public-fraction", v], "outside (0, 1)")
      for v in ("0", "1", "-0.3", "1.5", "nan")),
    BadInput("shakeup-no-splits", ["shakeup", "--n", "0"], "at least one split"),
    BadInput("shakeup-test-rows-1", ["shakeup", "--test-rows", "1"], "at least 2 rows"),
    BadInput("shakeup-unknown-run", ["shakeup", "--runs", "nope"], "no OOF predictions"),
    BadInput("shakeup-fraction-in-toml", ["shakeup"], "kfold.toml: public_fraction",
             damage=lambda ws: Workspace.init(ws.root, public_fraction=3.0)),
    BadInput("shakeup-fraction-text-in-toml", ["shakeup"],
             "kfold.toml: public_fraction = 'abc' must be a number in (0, 1)",
             damage=_toml_fraction),
    BadInput("shakeup-fraction-text", ["shakeup", "--public-fraction", "abc"],
             "Invalid value for '--public-fraction'"),
    BadInput("shakeup-splits-text", ["shakeup", "--n", "many"], "Invalid value for '--n'"),
    BadInput("shakeup-splits-negative", ["shakeup", "--n", "-5"], "at least one split"),
    BadInput("shakeup-seed-negative", ["shakeup", "--seed", "-1"], "--seed -1"),
    BadInput("shakeup-png-is-a-folder", ["shakeup", "--png", "{ws}"], "it is a folder"),
    BadInput("download-ref-text", ["submission", "download", "latest"], "Invalid value for 'ref'"),
    BadInput("leaderboard-top-negative", ["leaderboard", "--top", "-3"], "--top -3: show at least 1"),
    BadInput("runs-format-xml", ["runs", "--format", "xml"], "choose one of table, json, csv"),
    BadInput("plan-format-xml", ["plan", "--format", "xml"], "choose one of table, json, csv"),
    BadInput("export-not-csv", ["submissions", "--offline", "--export", "{ws}/x.txt"],
             "give a .csv file name"),
]


NEW_LEDGER = "submissions/ledger.sqlite*"  # an empty ledger the Kaggle commands create first
KAGGLE_ENV = {"KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "k3y", "KAGGLE_CONFIG_DIR": "{ws}/kg"}


def _run_named_like_a_stack(ws: Workspace) -> None:
    """A run named stack-rank, trained before stack names were reserved."""
    shutil.copytree(ws.run_dir(RUN), ws.models_dir / "stack-rank")


def _demo_over(ws: Workspace) -> None:
    Workspace.init(ws.root, competition="my-contest")


def _grid(text: str) -> Damage:
    """Write `text` as the workspace's grid.toml."""
    return lambda ws: (ws.root / "grid.toml").write_text(text)


OTHER_COMMANDS = [
    BadInput("usage-not-a-number", [*TRAIN, "--folds", "abc"], "Invalid value for '--folds'"),
    BadInput("usage-unknown-option", [*TRAIN, "--bogus"], "No such option: --bogus"),
    BadInput("usage-missing-run", ["retrain"], "Missing option '--run'"),
    BadInput("folds-seed-negative", ["folds", "--seed", "-1", "--force"],
             "--seed -1 must be a whole number from 0"),
    BadInput("train-folds-more-than-a-class", [*TRAIN, "--folds", "30", "--name", "r30"],
             "30 folds need at least 30 images of each class"),
    BadInput("weights-folder", [*TRAIN, "--weights", "{ws}/models"], "a folder, not a file"),
    BadInput("shakeup-png-not-png", ["shakeup", "--png", "{ws}/x.txt"], "give a .png file name"),
    BadInput("explain-batch-size-0", ["explain", "--run", RUN, "--batch-size", "0"],
             "--batch-size must be a whole number from 1"),
    BadInput("grid-file-is-a-folder", ["grid", "{ws}/models"], "is a folder; give a TOML file"),
    # a bad value is named where it was written: a grid file's run, its defaults
    BadInput("grid-run-lr-negative", ["grid", "{ws}/grid.toml"],
             "grid.toml [[run]] 'b': lr = -1 must be a number in (0, 10]",
             damage=_grid('[[run]]\nname = "a"\n[[run]]\nname = "b"\nlr = -1\n')),
    BadInput("grid-defaults-image-size-3000", ["grid", "{ws}/grid.toml"],
             "grid.toml [defaults]: image-size = 3000 must be a whole number from 8 to 2048",
             damage=_grid('[defaults]\nimage-size = 3000\n[[run]]\nname = "a"\n')),
    BadInput("stack-over-a-run", ["stack", "--blender", "rank"], "stack-rank is a trained run",
             damage=_run_named_like_a_stack),
    BadInput("serve-port-70000", ["sandbox", "serve", "--port", "70000", "--duration", "1"],
             "--port must be a whole number from 0 to 65535"),
    BadInput("serve-daily-limit-0", ["sandbox", "serve", "--daily-limit", "0", "--duration", "1"],
             "--daily-limit must be"),
    BadInput("serve-duration-negative", ["sandbox", "serve", "--duration", "-1"],
             "--duration must be"),
    BadInput("models-limit-negative", ["models", "--limit", "-1"], "--limit must be",
             workspace_option=False),
    BadInput("bench-size-0", ["bench", "--size", "0"], "--size must be", workspace_option=False),
    BadInput("repro-small-size-0", ["repro", "--small-size", "0"], "--small-size must be"),
    BadInput("repro-model-unknown", ["repro", "--model", "no-such-net"], "unknown model"),
    BadInput("repro-crop-too-large", ["repro", "--crop", "30"], "--crop 30 is too large",
             may_write=(".cache/*",)),  # decoded images of earlier rows: nothing trains
    BadInput("synth-size-huge", ["data", "synth", "--size", "100000", "-w", "{ws}/new"],
             "--size must be a whole number from 32 to 4096", workspace_option=False),
    BadInput("synth-seed-negative", ["data", "synth", "--seed", "-1", "-w", "{ws}/new"],
             "--seed must be", workspace_option=False),
    BadInput("demo-epochs-0", ["demo", "--epochs", "0", "-w", "{ws}/demo"], "--epochs 0 must be",
             workspace_option=False),
    BadInput("demo-in-a-user-workspace", ["demo", "-w", "{ws}"], "the demo would rewrite its "
             "kfold.toml", damage=_demo_over, workspace_option=False),
]


def _ledger_and(name: str, text: str) -> Damage:
    """An existing ledger (it must not change) and a hand-made submission file."""
    def damage(ws: Workspace) -> None:
        from kfold.kaggle.flow import open_ledger, register_candidates

        with open_ledger(ws) as led:
            register_candidates(ws, led)
        (ws.root / name).write_text(text)

    return damage


def _hand_made(ws: Workspace, fn) -> str:
    return fn(pd.read_csv(ws.submission_path(RUN), dtype={"id": str})).to_csv(index=False)


def _submission(fn) -> Damage:
    def damage(ws: Workspace) -> None:
        _ledger_and("hand.csv", _hand_made(ws, fn))(ws)

    return damage


SUBMIT = ["submit", "{ws}/hand.csv", "--dry-run"]
HAND_MADE = [
    BadInput("submit-nan", SUBMIT, "1 value(s) in 'label' missing, not numbers or outside [0, 1]",
             damage=_submission(lambda s: s.assign(label=[np.nan, *s["label"][1:]]))),
    BadInput("submit-above-1", SUBMIT, "'label': 1.5",
             damage=_submission(lambda s: s.assign(label=[1.5, *s["label"][1:]]))),
    BadInput("submit-duplicate-id", SUBMIT, "1 duplicate id(s)",
             damage=_submission(lambda s: pd.concat([s, s.head(1)]))),
    BadInput("submit-missing-id", SUBMIT, "1 id(s) missing",
             damage=_submission(lambda s: s.iloc[1:])),
    BadInput("submit-wrong-header", SUBMIT, "columns ['id', 'target'] differ",
             damage=_submission(lambda s: s.rename(columns={"label": "target"}))),
    BadInput("submit-empty-file", SUBMIT, "not a readable CSV", damage=_ledger_and("hand.csv", "")),
    BadInput("submit-a-folder", ["submit", "{ws}/models", "--dry-run"], "is a folder"),
    BadInput("submit-endpoint-not-a-url", ["submit", f"{{ws}}/submissions/{RUN}.csv", "-m", "x"],
             "is not an http(s) URL", damage=_ledger_and("notes.txt", ""),
             env={**KAGGLE_ENV, "KF_KAGGLE_ENDPOINT": "notaurl"}),
]


def _text_weights(ws: Workspace) -> None:
    (ws.root / "weights.txt").write_text("epoch 3: these are not weights\n")



KAGGLE_AND_MESSAGES = [
    BadInput("kaggle-endpoint-not-a-url", ["submissions"], "is not an http(s) URL",
             env={**KAGGLE_ENV, "KF_KAGGLE_ENDPOINT": "notaurl"}, may_write=[NEW_LEDGER]),
    BadInput("sidecar-json-garbage", ["plan"], f"{RUN}.json is damaged",
             damage=_garble(f"submissions/{RUN}.json"), may_write=[NEW_LEDGER]),
    BadInput("ledger-garbage", ["submissions", "--offline"], "ledger.sqlite is damaged",
             damage=_garble("submissions/ledger.sqlite", b"SQLite format 2\x00" + b"x" * 200)),
    BadInput("weights-text-file", [*TRAIN, "--weights", "{ws}/weights.txt"],
             "is not a PyTorch checkpoint", damage=_text_weights),
]


@pytest.mark.parametrize("row", OPTION_RANGES + RUN_NAMES + EXECUTORS + BEFORE_ANY_WORK + WORKSPACES
                         + DAMAGED_FILES + DECISIONS + KAGGLE_AND_MESSAGES + OTHER_COMMANDS
                         + HAND_MADE, ids=str)
def test_bad_input_is_refused_and_changes_nothing(ws, row, monkeypatch):
    check(row, ws, monkeypatch)


# --- damage kf repairs: the command succeeds and says what it rebuilt ---------------------
def _rerun(ws: Workspace):
    result = run_kf([*TRAIN, "--name", RUN], ws)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def _other_images(ws: Workspace) -> None:
    """fold1's predictions cut to its first 3 test images (another data set's file)."""
    path = ws.run_dir(RUN) / "fold1.preds.npz"
    preds = dict(np.load(path))
    np.savez(path, **{k: v[:3] if k.startswith("test") else v for k, v in preds.items()})


@pytest.mark.parametrize("damage", [
    _truncate(f"models/{RUN}/fold1.result.json"), _garble(f"models/{RUN}/fold1.preds.npz"),
    _edit_json(f"models/{RUN}/fold1.result.json", auc="x"), _other_images,
], ids=["result", "preds", "result-wrong-type", "preds-other-images"])
def test_a_damaged_fold_file_trains_that_fold_again(ws, damage):
    fold0 = (ws.run_dir(RUN) / "fold0.preds.npz").read_bytes()
    damage(ws)
    out = _rerun(ws)
    assert "is damaged" in out and "training fold1 again" in out
    assert "fold0: already trained" in out
    assert (ws.run_dir(RUN) / "fold0.preds.npz").read_bytes() == fold0
    assert np.load(ws.run_dir(RUN) / "fold1.preds.npz")["test_pred"].shape == (16,)


def test_a_damaged_resume_state_restarts_its_fold(ws):
    (ws.run_dir(RUN) / "fold1.result.json").unlink()
    (ws.run_dir(RUN) / "fold1.last.pt").write_bytes(b"half a checkpoint")
    out = _rerun(ws)
    assert "fold1.last.pt is damaged" in out and "restarting fold1" in out
    assert not (ws.run_dir(RUN) / "fold1.last.pt").exists()


def test_stray_temp_files_of_killed_writes_are_removed(ws):
    strays = [ws.run_dir(RUN) / ".run.json.x1.tmp", ws.oof_dir / f".{RUN}.parquet.x2.tmp",
              ws.submissions_dir / f".{RUN}.csv.x3.tmp"]
    for path in strays:
        path.write_bytes(b"half")
    other = ws.oof_dir / ".other.parquet.x4.tmp"  # another run's: not ours to remove
    other.write_bytes(b"half")
    out = _rerun(ws)
    assert "removed 3 temp file(s)" in out
    assert not any(p.exists() for p in strays) and other.exists()


def test_a_stale_lock_is_taken_over(ws):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = ws.models_dir / f".{RUN}.lock"
    lock.write_text(f"{dead.pid}\n{socket.gethostname()}\n")
    out = _rerun(ws)
    assert "removed a stale lock" in out and not lock.exists()


def test_force_replaces_the_old_run_only_after_the_checks(ws):
    old_oof = ws.oof_path(RUN).read_bytes()
    result = run_kf([*TRAIN, "--name", RUN, "--force", "--lr", "0.01"], ws)
    assert result.exit_code == 0, result.output
    assert "--force: replaced the old run" in result.output
    assert ws.oof_path(RUN).read_bytes() != old_oof


def test_a_killed_stack_leaves_temp_files_the_next_stack_removes(ws):
    _stacking(ws)
    (ws.oof_dir / ".stack.lock").unlink()
    strays = [ws.oof_dir / ".stack-mean.parquet.x1.tmp", ws.submissions_dir / ".stack-mean.csv.x2.tmp"]
    for path in strays:
        path.write_bytes(b"half")
    result = run_kf(["stack", "--blender", "mean"], ws)
    assert result.exit_code == 0, result.output
    assert "removed 2 temp file(s) of an interrupted kf stack" in result.output
    assert not any(p.exists() for p in strays) and not (ws.oof_dir / ".stack.lock").exists()


def test_missing_or_damaged_run_files_are_rebuilt_from_the_folds_and_said_so(ws):
    oof = ws.oof_path(RUN).read_bytes()
    ws.oof_path(RUN).unlink()
    _truncate(f"models/{RUN}/run.json")(ws)
    out = _rerun(ws)
    assert f"rebuilt oof/{RUN}.parquet, models/{RUN}/run.json (missing or damaged)" in out
    assert ws.oof_path(RUN).read_bytes() == oof
