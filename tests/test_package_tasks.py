"""`kf package` and `kf kernel test` beyond binary AUC: a multi-class run packaged, its kernel
writing kf's own submission; what is not supported refused in one line."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from kfold.cli import app
from kfold.workspace import Workspace

runner = CliRunner()
RUN = "simple-cnn-32px"


def kf(ws: Workspace, *args: str) -> str:
    result = runner.invoke(app, [*args, "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def multiclass_root(tmp_path_factory):
    """Synthetic chips of six defect classes, one 2-fold run: trained once per module."""
    ws = Workspace.init(tmp_path_factory.mktemp("multiclass"), competition="nexperia-synth")
    kf(ws, "data", "synth", "--task", "multiclass", "--n-train", "60", "--n-test", "12",
       "--size", "32")
    kf(ws, "train", "--model", "simple-cnn", "--image-size", "32", "--epochs", "1",
       "--folds", "2", "--batch-size", "16")
    return ws.root


@pytest.fixture
def multiclass_ws(tmp_path, multiclass_root) -> Workspace:
    shutil.copytree(multiclass_root, tmp_path / "ws")
    return Workspace.load(tmp_path / "ws")


def test_a_run_of_another_task_is_refused_in_one_line_and_nothing_is_written(multiclass_ws):
    result = runner.invoke(app, ["package", RUN, "-w", str(multiclass_ws.root),
                                 "--no-extra-wheels"])
    assert result.exit_code != 0 and result.output.count("error:") == 1
    assert "is a multiclass run or stack; kf package packages binary runs" in result.output
    assert not (multiclass_ws.root / "packages").exists()
