"""`kf submit --kernel`: a code-competition submission through the real kaggle client,
against the stand-in, which runs the pushed notebook offline and scores its output."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.cli import app
from kfold.errors import KfError
from kfold.kaggle import flow
from kfold.kaggle.code import CodeClient
from kfold.kaggle.code_submit import submit_kernel
from kfold.kaggle.ledger import Ledger
from kfold.kaggle.planner import make_plan
from kfold.kaggle.sandbox import SandboxServer
from kfold.kaggle.sandbox.scoring import Scorer, load_solution
from kfold.runs import runs_summary
from kfold.workspace import Workspace
from tests.kaggle_helpers import isolate_credentials, write_kaggle_json

NAME = "stack-hillclimb"


@pytest.fixture
def env(tmp_path, monkeypatch, dry_run_root):
    isolate_credentials(monkeypatch, tmp_path)
    (tmp_path / "home").mkdir()
    write_kaggle_json(tmp_path / "cfg", username="tester")
    shutil.copytree(dry_run_root, tmp_path / "ws")
    ws = Workspace.load(tmp_path / "ws")
    server = SandboxServer.from_workspace(ws, score_delay_s=0.05, code_competition=True)
    server.state.code.processing_s = 0.3
    server.start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    yield ws, server
    server.stop()


def client(ws):
    return CodeClient(ws.config.competition, backoff_s=0.01)


def rows(ws):
    with Ledger(ws.ledger_path) as led:
        return [dict(r) for r in led.submissions(ws.config.competition)]


def test_submit_kernel_uploads_pushes_waits_submits_that_version_and_records_lineage(env):
    ws, server = env
    res = submit_kernel(ws, NAME, "hill-climbed", wait=True, client=client(ws), poll_s=0.05)
    assert (res.dataset, res.dataset_version, res.kernel_version) == (
        "tester/stack-hillclimb-kf-package", 1, 1)
    assert res.status == "complete" and server.state.code.submitted[res.ref] == (
        "tester/hillclimb-kernel", 1)
    # the stand-in scored the notebook's own output: kf's test predictions of the stack
    expected = artifacts.read_test_preds(ws.test_path(NAME))
    csv = pd.DataFrame({"id": expected["id"], "label": expected["pred"]}).to_csv(index=False)
    solution = load_solution(ws.data_dir / "solution.csv", "id", "label")
    assert res.public_score == pytest.approx(Scorer().score(csv.encode(), solution)[0],
                                             abs=1e-5)
    (row,) = rows(ws)
    assert row["ref"] == res.ref and row["status"] == "complete"
    assert row["cv_auc"] == pytest.approx(res.cv_auc)
    import json

    lineage = json.loads(row["lineage"])
    assert lineage["kind"] == "code" and lineage["runs"] == ["a", "b"]
    assert lineage["metric"] == "auc"  # the contest metric its CV and fold scores are in
    assert lineage["kernel_version"] == 1 and lineage["dataset_version"] == 1
    assert len(lineage["package_sha256"]) == 64
    # kf submissions, kf plan and kf runs read a code submission like a CSV one
    view = flow.submissions_view(ws, client=client(ws))
    (shown,) = view.rows
    assert shown["file"] == "tester/hillclimb-kernel (notebook)" and shown["status"] == "complete"
    assert make_plan(ws, client=client(ws)) is not None
    runs = {r["run"]: r for r in runs_summary(ws)}
    assert runs["a"]["best_public"] == pytest.approx(res.public_score)  # the stack used it
    # a second submission: a new dataset version once the first is processed, kernel v2
    server.state.code.processing_s = 1.0
    again = submit_kernel(ws, NAME, "again", force=True, client=client(ws))
    assert (again.dataset_version, again.kernel_version) == (2, 2)
    assert server.state.code.submitted[again.ref] == ("tester/hillclimb-kernel", 2)
    calls = server.state.calls
    assert calls.count("CreateDataset") == 1 and calls.count("CreateDatasetVersion") == 1
    assert calls.count("CreateCodeSubmission") == 2


@pytest.mark.parametrize("failure, match", [
    ("exception", "Notebook Threw Exception: kernel tester/hillclimb-kernel/1 failed"),
    ("timeout", "Notebook Timeout"),
])
def test_a_failed_kernel_run_names_kaggles_class_and_gives_the_slot_back(env, failure, match):
    ws, server = env
    server.state.code.fail(failure)
    with pytest.raises(KfError, match=match):
        submit_kernel(ws, NAME, "doomed", client=client(ws))
    assert rows(ws) == [] and "CreateCodeSubmission" not in server.state.calls


@pytest.mark.parametrize("failure, match", [
    ("no-csv", "Submission CSV Not Found"), ("scoring", "Scoring Error")])
def test_failures_kaggle_reports_on_the_submission_are_recorded(env, failure, match):
    ws, server = env
    server.state.code.fail(failure)
    with pytest.raises(KfError, match=match):
        submit_kernel(ws, NAME, "scored wrong", wait=True, client=client(ws), poll_s=0.05)
    (row,) = rows(ws)
    assert row["status"] == "error" and match in row["error"]


def test_a_csv_competition_is_refused_before_a_slot_is_spent(env):
    ws, server = env
    server.state.code_competition = False
    with pytest.raises(KfError, match="is not a code competition: it takes CSV files"):
        submit_kernel(ws, NAME, "wrong contest", client=client(ws))
    assert rows(ws) == [] and "SaveKernel" not in server.state.calls


def test_a_kernel_not_dry_run_or_changed_since_is_refused_with_nothing_spent(env):
    ws, server = env
    notebook = ws.root / "kernels" / NAME / "kernel.ipynb"
    notebook.write_text(notebook.read_text().replace("run_kernel(", "run_kernel( "))
    with pytest.raises(KfError, match="changed since the last dry run"):
        submit_kernel(ws, NAME, "edited", client=client(ws))
    (ws.root / "kernels" / NAME / "kf-dry-run.json").unlink()
    with pytest.raises(KfError, match="was never dry-run"):
        submit_kernel(ws, NAME, "untested", client=client(ws))
    assert server.state.calls == [] and not ws.ledger_path.exists()


def test_cli_submit_kernel_and_its_refusals(env, tmp_path):
    ws, server = env
    runner = CliRunner()
    base = ["submit", "--kernel", NAME, "-w", str(ws.root)]
    bad = runner.invoke(app, [*base, "somefile.csv", "-m", "x"])
    assert bad.exit_code == 2 and "--kernel submits a notebook" in bad.output
    (tmp_path / "cfg" / "kaggle.json").unlink()
    missing = runner.invoke(app, [*base, "-m", "no credentials"])
    assert missing.exit_code == 2 and "no Kaggle credentials found" in missing.output
    assert rows(ws) == []
    write_kaggle_json(tmp_path / "cfg", username="tester")
    csv = runner.invoke(app, ["submit", str(ws.submission_path("a")), "-m", "csv", "-w",
                              str(ws.root)])
    assert csv.exit_code != 0 and "is a code competition" in csv.output
