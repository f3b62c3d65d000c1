"""kf train for every kind of contest, end to end on the command line: synthetic data of the
task, a k-fold run whose files are as wide as the task, a retrain, a submission in the
sample submission's form, scored by the stand-in Kaggle with the contest's metric."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from kfold import artifacts
from kfold.cli import app
from kfold.kaggle.flow import submissions_view
from kfold.kaggle.render import print_submissions
from kfold.kaggle.sandbox import SandboxServer
from kfold.scoring import get_metric
from kfold.workspace import Workspace
from tests.cli_helpers import kf
from tests.kaggle_helpers import isolate_credentials, write_kaggle_json

runner = CliRunner()
RUN = "simple-cnn-32px"
TRAIN = ["train", "--model", "simple-cnn", "--image-size", "32", "--epochs", "2", "--folds",
         "2", "--batch-size", "16"]
# task -> (the metric kf picks, its title in tables, prediction columns of a run)
TASKS = {"multiclass": ("logloss", "log loss", 6), "multilabel": ("auc-columns",
                                                                  "mean column AUC", 5),
         "regression": ("rmse", "RMSE", 1)}


def kf_json(ws: Workspace, *args: str):
    """A command's --format json output (stdout alone: notes go to stderr)."""
    result = runner.invoke(app, [*args, "--format", "json", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def synth(tmp_path):
    def make(task: str) -> Workspace:
        ws = Workspace.init(tmp_path / task, competition="nexperia-synth")
        kf(ws, "data", "synth", "--task", task, "--n-train", "60", "--n-test", "12",
           "--size", "32")
        return ws
    return make


@pytest.mark.parametrize("task", list(TASKS))
def test_train_retrain_and_submit_every_task(task, synth, tmp_path, monkeypatch):
    metric, title, width = TASKS[task]
    ws = synth(task)
    out = kf(ws, *TRAIN)
    assert f"OOF {title}" in out and "OOF AUC" not in out

    record = artifacts.read_run(ws, RUN)
    assert (record.task, record.metric) == (task, metric)
    oof = artifacts.read_oof(ws.oof_path(RUN), task)
    columns = artifacts.pred_columns(task, record.classes)
    assert len(columns) == width and set(columns) <= set(oof.columns)
    test = artifacts.read_test_preds(ws.test_path(RUN), task)
    assert {"pred_fold0" + c.removeprefix("pred") for c in columns} <= set(test.columns)
    if task == "multiclass":
        np.testing.assert_allclose(oof[columns].sum(axis=1), 1.0, atol=1e-3)

    sample = pd.read_csv(ws.data_dir / "sample_submission.csv")
    submission = pd.read_csv(ws.submission_path(RUN))
    assert list(submission.columns) == list(sample.columns)
    assert len(submission) == len(sample)

    out = kf(ws, "retrain", "--run", RUN)
    assert f"OOF {title}" in out
    full = artifacts.read_test_preds(ws.full_test_path(RUN), task)
    assert set(columns) <= set(full.columns)

    shown = json.loads(kf(ws, "runs", "--format", "json"))
    assert [(r["run"], r["metric"]) for r in shown] == [(RUN, metric)]
    assert shown[0]["oof_auc"] == pytest.approx(record.oof_auc)

    refused = runner.invoke(app, ["stack", "-w", str(ws.root)])
    assert refused.exit_code == 2 and "needs at least two runs" in refused.output
    assert not any(p.name.startswith("stack") for p in ws.oof_dir.iterdir())

    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg")
    server = SandboxServer.from_workspace(ws, score_delay_s=0.0).start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    try:
        out = kf(ws, "submit", str(ws.submission_path(RUN)), "-m", task, "--wait")
    finally:
        server.stop()
    assert "complete, public" in out
    (row,) = kf_json(ws, "submissions", "--offline")
    assert (row["metric"], row["cv_auc"]) == (metric, pytest.approx(record.oof_auc))
    label = get_metric(metric).label  # "log loss ↓": the ledger's views name the metric
    wide = Console(width=300, record=True)
    print_submissions(wide, submissions_view(ws, offline=True))
    assert f"CV {label}" in wide.export_text()
    plan = kf_json(ws, "plan", "--offline")
    assert plan["metric"] == metric
    assert any(f"no shake-up simulation for {title}" in n for n in plan["notes"])
