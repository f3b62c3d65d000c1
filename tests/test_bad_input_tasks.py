"""Bad input of issue 20's kinds of contest: one `error:` line each, nothing written."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold.cli import app
from kfold.data.synth.tasks import synthesize_task
from kfold.workspace import Workspace


@pytest.fixture(scope="module")
def regression_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("reg") / "data"
    synthesize_task(out, "regression", n_train=40, n_test=6, size=32, seed=0)
    return out


@pytest.fixture
def ws(tmp_path, regression_data):
    import shutil

    shutil.copytree(regression_data, tmp_path / "data")
    return Workspace.init(tmp_path, n_folds=2)


def _kf(*args):
    return CliRunner().invoke(app, list(args))


def _edit_train(ws, fn):
    path = ws.data_dir / "train.csv"
    fn(pd.read_csv(path, dtype={"id": str})).to_csv(path, index=False)


def _files(ws):
    return sorted(p.relative_to(ws.root).as_posix() for p in ws.root.rglob("*") if p.is_file())


def _refused(ws, args, message):
    before = _files(ws)
    result = _kf(*args, "-w", str(ws.root))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error:") and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _files(ws) == before


def test_group_column_missing_is_named(ws):
    Workspace.init(ws.root, group_column="patient")
    _refused(ws, ["data", "check"], "has no 'patient' column")


def test_folds_splitting_a_group_are_refused_on_read(ws):
    _edit_train(ws, lambda t: t.assign(patient=[f"p{k // 4}" for k in range(len(t))]))
    Workspace.init(ws.root, group_column="patient")
    assert _kf("folds", "-w", str(ws.root)).exit_code == 0
    folds = pd.read_csv(ws.folds_path, dtype={"id": str})
    folds.assign(fold=[k % 2 for k in range(len(folds))]).to_csv(ws.folds_path, index=False)
    _refused(ws, ["data", "check"], "group(s) of group_column across folds")


def test_unknown_metric_suggests_close_names(ws):
    (ws.root / "kfold.toml").write_text('metric = "rmsee"\n')
    _refused(ws, ["data", "check"], "unknown metric 'rmsee'; did you mean rmse")


def test_a_metric_of_another_task_is_refused(ws):
    Workspace.init(ws.root, metric="logloss")
    _refused(ws, ["data", "check"], "does not score a regression task")


def test_unknown_task_setting(ws):
    (ws.root / "kfold.toml").write_text('task = "ranking"\n')
    _refused(ws, ["data", "check"], "task = 'ranking'")


def test_multiclass_label_outside_the_sample_submissions_classes(ws):
    _edit_train(ws, lambda t: t.assign(label=["cat", "dog", "cow", "dgo"] * (len(t) // 4)))
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})
    sample[["id"]].assign(cat=0.3, cow=0.3, dog=0.4).to_csv(
        ws.data_dir / "sample_submission.csv", index=False)
    _refused(ws, ["data", "check"], "line 5 (id 'img000003'): label = 'dgo' is not a class")


def test_sample_submission_columns_that_are_not_the_classes(ws):
    _edit_train(ws, lambda t: t.assign(label=["cat", "dog", "cow", "cow"] * (len(t) // 4)))
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})
    sample[["id"]].assign(cat=0.5, dog=0.5).to_csv(ws.data_dir / "sample_submission.csv",
                                                   index=False)
    _refused(ws, ["data", "check"], "is not a class of the sample submission")


def test_a_class_with_fewer_images_than_folds_is_named(ws):
    labels = ["cat"] * 20 + ["dog"] * 19 + ["cow"]
    _edit_train(ws, lambda t: t.assign(label=labels))
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})
    sample[["id"]].assign(cat=0.3, cow=0.3, dog=0.4).to_csv(
        ws.data_dir / "sample_submission.csv", index=False)
    _refused(ws, ["folds"], "'cow' has 1")


@pytest.fixture
def multiclass_ws(tmp_path):
    synthesize_task(tmp_path / "data", "multiclass", n_train=40, n_test=6, size=32, seed=0)
    return Workspace.init(tmp_path, n_folds=2)


def _hand(ws, fill):
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})
    fill(sample).to_csv(ws.root / "hand.csv", index=False)
    return ["submit", str(ws.root / "hand.csv"), "--dry-run"]


def test_submit_checks_a_multiclass_file_against_the_sample_submission(multiclass_ws):
    ws = multiclass_ws
    ok = _kf(*_hand(ws, lambda s: s), "-w", str(ws.root))
    assert ok.exit_code == 0, ok.output
    _refused(ws, _hand(ws, lambda s: s.assign(good=0.9)), "do not sum to 1")
    _refused(ws, _hand(ws, lambda s: s[[*s.columns[::-1]]]), "differ from")
    _refused(ws, _hand(ws, lambda s: s[["id"]].assign(label="dent")), "differ from")


def _sample_as(ws, labels: str) -> None:
    """The multi-class contest's sample submission rewritten as one column of `labels`."""
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})
    sample[["id"]].assign(label=labels).to_csv(ws.data_dir / "sample_submission.csv",
                                               index=False)


@pytest.mark.parametrize("sample, hand, message", [
    ("good scratch chip", "good good", "guesses 'good' twice"),
    ("good scratch chip", "good scratch chip crack", "holds 4 label(s), not 1 to 3 "
                                                     "space-separated classes (MAP@3)"),
    ("good scratch chip", "good dent", "names 'dent', not one of the classes"),
    ("good", "good scratch", "holds 2 label(s), not one class"),
    ("good", "", "holds 0 label(s), not one class"),
])
def test_submit_checks_label_and_top_k_columns_against_the_sample_form(multiclass_ws, sample,
                                                                       hand, message):
    ws = multiclass_ws
    _sample_as(ws, sample)
    ok = _kf(*_hand(ws, lambda s: s), "-w", str(ws.root))
    assert ok.exit_code == 0, ok.output
    _refused(ws, _hand(ws, lambda s: s.assign(label=hand)), message)
