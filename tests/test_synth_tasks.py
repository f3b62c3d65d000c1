"""`kf data synth --task`: each contest kind in its own Kaggle layout, read back by task
detection as that kind; same seed, same bytes; the folder complete or absent."""

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold.cli import app
from kfold.data.sources import discover
from kfold.data.synth.tasks import CLASSES, LABELS, plan_chips, synthesize_task
from kfold.errors import KfError
from kfold.workspace import Workspace


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module", params=["multiclass", "multilabel", "regression"])
def made(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    synthesize_task(root / "data", request.param, n_train=40, n_test=8, size=32, seed=0)
    return request.param, Workspace.init(root, n_folds=2)


def test_each_task_is_detected_from_its_layout(made):
    task, ws = made
    dataset = discover(ws)
    assert dataset.task.kind == task and len(dataset.train) == 40 and len(dataset.test) == 8
    if task == "multiclass":
        assert dataset.task.classes == tuple(sorted(CLASSES))
        assert dataset.task.output == "probabilities" and dataset.layout == "folders"
    elif task == "multilabel":
        assert set(dataset.task.classes) == set(LABELS)
        assert dataset.train["target"].str.split().map(len).max() >= 1
    else:
        assert dataset.task.output == "value" and dataset.train["target"].nunique() > 10


def test_solution_holds_the_truth_and_both_halves(made):
    task, ws = made
    solution = pd.read_csv(ws.data_dir / "solution.csv")
    assert set(solution["Usage"]) == {"Public", "Private"} and len(solution) == 8


def test_multiclass_is_imbalanced_with_every_class_present():
    chips = plan_chips("multiclass", 200, 20, seed=1)
    train = pd.Series([(c.labels or ("good",))[0] for c in chips if c.split == "train"])
    counts = train.value_counts()
    assert set(counts.index) == set(CLASSES) and counts["good"] > 3 * counts["chip"]


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        synthesize_task(tmp_path / name, "multilabel", n_train=12, n_test=4, size=32, seed=3)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_cli_synth_task_then_check_prints_the_task_and_its_reason(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["data", "synth", "-w", str(tmp_path), "--task", "multiclass",
                                 "--n-train", "40", "--n-test", "6", "--size", "32"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["data", "check", "-w", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "multiclass, 6 classes" in result.output and "6 class folders" in result.output
    assert "logloss" in result.output


def test_unknown_task_is_one_error_and_writes_nothing(tmp_path):
    with pytest.raises(KfError, match="--task 'ranking'"):
        synthesize_task(tmp_path / "d", "ranking", n_train=40, n_test=8, size=32)
    assert not (tmp_path / "d").exists()
