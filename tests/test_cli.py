"""The CLI end to end on tiny data, and one clear line for each bad input."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold.cli import app
from kfold.data.sources import discover

runner = CliRunner()


def kf(*args, ws=None):
    argv = [*args, *(["--workspace", str(ws.root)] if ws is not None else [])]
    return runner.invoke(app, argv)


def test_synth_check_folds_train_runs(tmp_path):
    ws_dir = tmp_path / "ws"
    ws_dir.mkdir()
    (ws_dir / "kfold.toml").write_text("n_folds = 2\nimage_size = 32\n")
    result = runner.invoke(app, ["data", "synth", "--workspace", str(ws_dir), "--n-train", "40",
                                 "--n-test", "10", "--size", "40"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["data", "check", "-w", str(ws_dir)]).exit_code == 0
    result = runner.invoke(app, ["folds", "-w", str(ws_dir)])
    assert "fingerprint" in result.output
    result = runner.invoke(app, ["train", "-w", str(ws_dir), "--epochs", "1",
                                 "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    assert "OOF AUC" in result.output and "submission:" in result.output
    assert (ws_dir / "oof" / "simple-cnn-32px.parquet").exists()
    result = runner.invoke(app, ["runs", "-w", str(ws_dir)])
    assert "simple-cnn-32px" in result.output


def _one_line_error(result, fragment):
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:"), result.stderr
    assert fragment in " ".join(lines), result.stderr
    assert "Traceback" not in result.output


def _remove_class(ws):
    shutil.rmtree(ws.data_dir / "train" / "bad_1")
    (ws.data_dir / "train" / "bad_1").mkdir()


def _corrupt_image(ws):
    path = discover(ws).train["path"].iat[0]
    open(path, "wb").write(b"not a jpeg")


def _table_layout_with_wrong_columns(ws):
    train = discover(ws).train
    pd.DataFrame({"image": train["id"], "y": train["target"]}).to_csv(
        ws.data_dir / "train.csv", index=False)


@pytest.mark.parametrize("damage, args, fragment", [
    (lambda ws: shutil.rmtree(ws.data_dir), ["train"], "no data folder"),
    (_table_layout_with_wrong_columns, ["train"], "lacks column(s) ['id', 'label']"),
    (_corrupt_image, ["train"], "unreadable training image"),
    (_remove_class, ["train"], "has no images"),
    (lambda ws: None, ["train", "--folds", "40"], "use fewer folds"),
    (lambda ws: None, ["train", "--model", "simple-cn"], "did you mean simple-cnn"),
    (lambda ws: None, ["train", "--tta", "x"], "--tta must be one of"),
])
def test_bad_input_is_one_clear_line(workspace, damage, args, fragment):
    damage(workspace)
    _one_line_error(kf(*args, "--epochs", "1", ws=workspace), fragment)
    assert not (workspace.oof_dir).exists() or not any(workspace.oof_dir.iterdir())


def test_folds_of_another_split_are_refused(workspace):
    assert kf("train", "--epochs", "1", ws=workspace).exit_code == 0
    _one_line_error(kf("folds", "--seed", "5", ws=workspace), "holds another split")
    assert kf("folds", "--seed", "5", "--force", ws=workspace).exit_code == 0
    _one_line_error(kf("train", "--epochs", "1", ws=workspace), "another fold split")


def test_installed_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "kfold", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "train" in out.stdout
