"""kf stack and kf shakeup on every kind of contest, end to end on the command line:
synthetic data of the task, two tiny runs, a stack scored in the contest's metric whose
files are as wide as the task, a shake-up; and runs of two contests refused in one line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.cli import app
from kfold.workspace import Workspace
from tests.cli_helpers import kf

runner = CliRunner()
TRAIN = ["train", "--model", "simple-cnn", "--image-size", "32", "--epochs", "1", "--folds",
         "2", "--batch-size", "16"]
# task -> the metric's label in the stack's header, the blenders `all` runs (a rank blend
# only where the metric reads ranks: not for log loss)
TASKS = {"multiclass": ("log loss ↓", ["mean", "logreg", "lightgbm", "hillclimb"]),
         "multilabel": ("mean column AUC ↑", ["mean", "rank", "logreg", "lightgbm",
                                              "hillclimb"]),
         "regression": ("RMSE ↓", ["mean", "hillclimb", "linear"])}


def two_runs(tmp_path, task: str) -> Workspace:
    ws = Workspace.init(tmp_path / task, competition="nexperia-synth")
    kf(ws, "data", "synth", "--task", task, "--n-train", "60", "--n-test", "12", "--size", "32")
    for name, seed in (("a", "1"), ("b", "2")):
        kf(ws, *TRAIN, "--name", name, "--model-seed", seed)
    return ws


@pytest.mark.parametrize("task", list(TASKS))
def test_stack_and_shakeup_every_task(task, tmp_path):
    label, blenders = TASKS[task]
    ws = two_runs(tmp_path, task)
    out = kf(ws, "stack")
    assert f"OOF {label}" in out and "OOF AUC" not in out
    record = artifacts.read_run(ws, "a")
    columns = artifacts.pred_columns(task, record.classes)
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv")
    for blender in blenders:
        name = f"stack-{blender}"
        oof = artifacts.read_oof(ws.oof_path(name), task)
        assert set(columns) <= set(oof.columns) and len(oof) == 60
        test = artifacts.read_test_preds(ws.test_path(name), task)
        assert set(columns) <= set(test.columns)
        submission = pd.read_csv(ws.submission_path(name))
        assert list(submission.columns) == list(sample.columns)
        assert len(submission) == len(sample)
        sidecar = json.loads(ws.submission_path(name).with_suffix(".json").read_text())
        assert (sidecar["lineage"]["task"], sidecar["lineage"]["metric"]) == (task, record.metric)

    listed = {r["run"]: r for r in json.loads(kf(ws, "runs", "--format", "json"))}
    for blender in blenders:  # kf runs lists the stacks in the contest's metric
        row = listed[f"stack-{blender}"]
        assert row["metric"] == record.metric and len(row["fold_aucs"]) == 2

    shaken = json.loads(kf(ws, "shakeup", "--n", "50", "--format", "json"))
    assert {r["run"] for r in shaken["per_run"]} == {"a", "b", *(f"stack-{b}" for b in blenders)}
    assert shaken["metric"] == record.metric
    table = kf(ws, "shakeup", "--n", "50")
    assert label.split(" ↓")[0].split(" ↑")[0] in table and "OOF AUC" not in table


def test_runs_of_different_tasks_or_class_orders_are_refused_writing_nothing(tmp_path):
    ws = two_runs(tmp_path, "multiclass")
    for command in ("stack", "shakeup"):  # an unknown run is named, not read as binary
        refused = runner.invoke(app, [command, "--runs", "nothere", "-w", str(ws.root)])
        assert refused.exit_code == 2
        assert "no OOF predictions for run(s) ['nothere']" in refused.output
    record = artifacts.read_run(ws, "b")
    artifacts.update_run(ws, "b", classes=record.classes[::-1])
    refused = runner.invoke(app, ["stack", "-w", str(ws.root)])
    assert refused.exit_code == 2
    assert "error:" in refused.output and "'a' and 'b' differ in classes" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    artifacts.update_run(ws, "b", classes=record.classes, task="multilabel")
    for command in ("stack", "shakeup"):
        refused = runner.invoke(app, [command, "-w", str(ws.root)])
        assert refused.exit_code == 2
        assert "'a' and 'b' differ in task (multiclass vs multilabel)" in refused.output
        assert len(refused.output.strip().splitlines()) == 1
    assert not any(p.name.startswith(("stack", "shakeup")) for p in ws.oof_dir.iterdir())
    assert not any(p.name.startswith("stack") for p in ws.submissions_dir.iterdir())
