"""MLflow as an optional tracker, against a local folder store: runs, explain, submissions;
mlflow is never imported without `tracking_uri`."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from kfold import tracking
from kfold.errors import KfError
from kfold.explain.run import explain_run
from kfold.kaggle import flow
from kfold.kaggle.client import KaggleClient
from kfold.kaggle.sandbox import SandboxServer
from kfold.train.run import train_run
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace
from tests.kaggle_helpers import isolate_credentials, make_competition, write_kaggle_json

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra (in dev) is not installed")


def _runs(root, kind, uri=None, experiment="nexperia-synth"):
    client = mlflow.tracking.MlflowClient(
        tracking_uri=uri or (root / "mlruns").resolve().as_uri())
    exp = client.get_experiment_by_name(experiment)
    return client, client.search_runs([exp.experiment_id], f"tags.`kf.kind` = '{kind}'")


def test_a_training_run_and_its_gradcam_land_in_mlflow(tmp_path, synth_data):
    shutil.copytree(synth_data, tmp_path / "data")
    ws = Workspace.init(tmp_path, n_folds=2, image_size=32, seed=0, tracking_uri="mlruns")
    cfg = TrainConfig(n_folds=2, image_size=32, epochs=2, batch_size=16, seed=0)
    rec = train_run(ws, cfg, "tiny")
    client, runs = _runs(tmp_path, "run")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["kf.run"] == "tiny" and run.data.params["epochs"] == "2"
    assert run.data.tags["kf.metric"] == "auc"  # the metric its *_auc keys hold
    oof = rec.oof_auc if hasattr(rec, "oof_auc") else rec["oof_auc"]
    assert run.data.metrics["oof_auc"] == pytest.approx(oof)
    assert {"fold0_auc", "fold1_auc"} <= set(run.data.metrics)
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "fold0.val_auc")]
    assert steps == [0, 1]  # the epochs of history_fold0.csv
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"curves.png", "run.json"} <= names

    assert all(m.timestamp > 1_700_000_000_000 for m in  # real times, not January 1970
               client.get_metric_history(run.info.run_id, "fold0.val_auc"))

    explain_run(ws, "tiny", n=2)
    pngs = client.list_artifacts(run.info.run_id, "gradcam")
    assert [a.path for a in pngs] == ["gradcam/gradcam.png"]
    scores = client.get_run(run.info.run_id).data.metrics
    assert {"gradcam.pointing_game", "gradcam.chance", "gradcam.iou_at_0.5"} <= set(scores)


@pytest.mark.parametrize("store", ["mlruns", "sqlite:///mlflow.db"])
def test_submissions_log_cv_and_public_score(tmp_path, monkeypatch, store):
    """In a folder store and in an SQLite database, both relative to the workspace."""
    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg")
    ws = make_competition(tmp_path / "ws", candidates=[("good", 0.15, 0.95)])
    ws = Workspace.init(ws.root, tracking_uri=store)
    with SandboxServer.from_workspace(ws, score_delay_s=0.0) as server:
        monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
        c = KaggleClient(ws.config.competition, backoff_s=0.01)
        res = flow.submit(ws, None, "m", client=c, wait=True, poll_s=0.05)
        flow.submissions_view(ws, client=c)  # a later sync logs nothing twice
    _, runs = _runs(ws.root, "submission", tracking.resolve_uri(ws, store))
    assert len(runs) == 1 and runs[0].data.tags["kf.ref"] == str(res.ref)
    assert runs[0].data.tags["kf.runs"] == "good" and runs[0].data.tags["kf.metric"] == "auc"
    m = runs[0].data.metrics
    assert m["cv_auc"] == pytest.approx(0.95) and m["public_score"] == pytest.approx(
        res.public_score, abs=1e-5)
    assert runs[0].info.status == "FINISHED" and runs[0].data.tags["name"] == "good"


def test_a_submission_to_another_competition_is_tracked_under_that_one(tmp_path, monkeypatch):
    """`-c` names the competition: its MLflow experiment is that slug, not kfold.toml's."""
    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg")
    other = make_competition(tmp_path / "other", competition="other-contest",
                             candidates=[("good", 0.15, 0.95)])
    ws = Workspace.init(other.root, competition="nexperia-synth", tracking_uri="mlruns")
    with SandboxServer.from_workspace(other, score_delay_s=0.0) as server:
        monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
        res = flow.submit(ws, None, "m", competition="other-contest", wait=True, poll_s=0.05)
    _, runs = _runs(ws.root, "submission", experiment="other-contest")
    assert [r.data.tags["kf.ref"] for r in runs] == [str(res.ref)]
    assert mlflow.tracking.MlflowClient(tracking_uri=(ws.root / "mlruns").resolve().as_uri()
                                        ).get_experiment_by_name("nexperia-synth") is None


def test_tracking_uri_without_mlflow_fails_before_any_work(tmp_path, monkeypatch):
    ws = Workspace.init(tmp_path, tracking_uri="mlruns")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(KfError, match=r"pip install 'kfold\[mlflow\]'"):
        tracking.for_workspace(ws)
    assert tracking.for_workspace(Workspace.init(tmp_path / "off")) is None


def test_mlflow_is_not_imported_unless_configured(tmp_path):
    ws = make_competition(tmp_path / "ws", candidates=[("good", 0.15, 0.95)])
    code = (f"import sys; from kfold.workspace import Workspace; "
            f"from kfold.kaggle.planner import make_plan; "
            f"make_plan(Workspace.load({str(ws.root)!r}), offline=True); "
            f"print('mlflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_server_url_is_kept_and_a_folder_is_resolved_in_the_workspace(tmp_path):
    ws = Workspace.init(tmp_path)
    assert tracking.resolve_uri(ws, "http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert tracking.resolve_uri(ws, "mlruns") == (tmp_path / "mlruns").resolve().as_uri()
    assert tracking.resolve_uri(ws, "sqlite:///m.db") == f"sqlite:///{(tmp_path / 'm.db').resolve()}"
    assert tracking.resolve_uri(ws, "sqlite:////abs/m.db") == "sqlite:////abs/m.db"


def test_a_server_that_does_not_answer_is_one_error_before_work_and_a_warning_after(
        tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    ws = make_competition(tmp_path / "ws", candidates=[("good", 0.15, 0.95)])
    ws = Workspace.init(ws.root, tracking_uri=f"http://127.0.0.1:{port}")
    with pytest.raises(KfError, match=f"cannot open the MLflow store .*127.0.0.1:{port}"):
        tracking.for_workspace(ws)  # kf train calls this before it trains
    from kfold.kaggle.flow import open_ledger
    from kfold.kaggle.quota import track_submissions

    with pytest.warns(UserWarning, match="MLflow tracking skipped"), open_ledger(ws) as led:
        track_submissions(ws, led, ws.config.competition)  # after a submission: a warning


def test_a_stack_lands_in_mlflow_as_a_row_of_kf_runs(tmp_path):
    from kfold.bench.stack import write_workspace
    from kfold.stack.run import stack_runs

    ws = write_workspace(tmp_path, n_rows=200, n_runs=2, seed=1)
    ws = Workspace.init(ws.root, tracking_uri="mlruns")
    report = stack_runs(ws, blenders="mean")
    _, runs = _runs(ws.root, "stack")
    (run,) = runs
    assert run.data.tags["kf.run"] == "stack-mean" and run.data.params["blender"] == "mean"
    assert run.data.params["runs"] == ",".join(report.runs)
    stack = next(s for s in report.scores if s.name == "stack-mean")
    assert run.data.metrics["oof_auc"] == pytest.approx(stack.oof_auc)
