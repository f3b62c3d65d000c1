"""kf pseudo: fold k learns only the pseudo-labels of the source's fold-k model (no leak),
the new run's OOF rows are the real training images, lineage is recorded, bad input is
refused with nothing written, and an interrupted run resumes to the same result."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from kfold import artifacts, execute
from kfold.data.sources import discover
from kfold.data.synth.tasks import synthesize_task
from kfold.errors import KfError
from kfold.folds import write_folds
from kfold.train.pseudo import PseudoOptions, pseudo_run, pseudo_teacher, select
from kfold.train.run import train_run
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace
from tests.test_cli import _one_line_error, kf
from tests.test_resume import Interrupted, StopAfter


def _memorising_source(ws, name="memo"):
    """A fake source whose fold-j model memorised its training images: test image i is a
    copy of training image i; model j predicts the copy's true class (binary: its label;
    multi-class: one-hot) when it trained on the original (fold != j), and chance (0.5;
    1/C for each class) when the original was its validation."""
    task = discover(ws).task
    folds = write_folds(ws, discover(ws).train, kind=task.kind, classes=task.classes)
    test_ids = discover(ws).test["id"].astype(str).to_numpy()
    original = folds.iloc[:len(test_ids)]
    truth, chance = original["target"].to_numpy(float)[:, None], 0.5
    if task.kind == "multiclass":
        truth, chance = np.eye(len(task.classes))[original["target"]], 1 / len(task.classes)
    cols, mean = {}, 0
    for j in range(int(folds["fold"].max()) + 1):
        seen = (original["fold"].to_numpy() != j)[:, None]
        pred = np.where(seen, truth, chance)
        cols |= dict(zip(artifacts.pred_columns(task.kind, task.classes, f"pred_fold{j}"), pred.T))
        mean = mean + pred / (int(folds["fold"].max()) + 1)
    cols |= dict(zip(artifacts.pred_columns(task.kind, task.classes), mean.T))
    artifacts.write_test_preds(ws.test_path(name), pd.DataFrame({"id": test_ids, **cols}),
                               task.kind, task.classes)
    oof = folds.assign(**dict.fromkeys(artifacts.pred_columns(task.kind, task.classes), chance))
    artifacts.write_oof(ws.oof_path(name), oof, task.kind, task.classes)
    return folds, dict(zip(test_ids, original["fold"])), mean


@pytest.fixture
def multiclass_ws(tmp_path):
    """72 multi-class chips (6 classes), 2 folds."""
    synthesize_task(tmp_path / "mc" / "data", "multiclass", n_train=60, n_test=12, size=32,
                    seed=0)
    return Workspace.init(tmp_path / "mc", n_folds=2, image_size=32, seed=0)


@pytest.mark.parametrize("kind, fixture, mean_confidence", [
    ("binary", "workspace", 0.7), ("multiclass", "multiclass_ws", 0.55)])
def test_fold_k_never_learns_a_copy_of_its_own_validation_images(kind, fixture, mean_confidence,
                                                                 request):
    ws = request.getfixturevalue(fixture)
    folds, fold_of_original, mean = _memorising_source(ws)
    teacher = pseudo_teacher(ws, "memo", folds, PseudoOptions(confidence=0.9))
    for k, chosen in enumerate(teacher.fold_targets):
        assert len(chosen) > 0
        assert all(fold_of_original[i] != k for i in chosen.index), f"fold {k} leaked"
    # The fold mean would have leaked: it is confident about copies of fold-k images.
    mean_choice = select(mean[:, 0] if kind == "binary" else mean, kind,
                         PseudoOptions(mean_confidence))
    assert any(v == 0 for v in np.array(list(fold_of_original.values()))[mean_choice])


def test_top_share_keeps_that_share_of_each_predicted_class_most_confident_first():
    p = np.array([0.95, 0.9, 0.6, 0.4, 0.2, 0.01, 0.3, 0.45])
    keep = select(p, "binary", PseudoOptions(top_share=0.5))
    # 3 predicted defects -> ceil(1.5) = 2 kept; 5 predicted good -> ceil(2.5) = 3 kept
    assert keep.tolist() == [True, True, False, False, True, True, True, False]


def test_hard_labels_are_the_likeliest_class(workspace):
    folds, _, _ = _memorising_source(workspace)
    teacher = pseudo_teacher(workspace, "memo", folds, PseudoOptions(top_share=1.0, labels="hard"))
    assert set(np.unique(np.concatenate([t.to_numpy() for t in teacher.fold_targets]))) <= {0, 1}


@pytest.fixture
def source(workspace, tiny_cfg):
    train_run(workspace, dataclasses.replace(tiny_cfg, epochs=1), "src")
    return workspace


def test_pseudo_run_trains_on_pseudo_rows_and_keeps_oof_to_training_images(source, monkeypatch):
    ws, seen = source, {}
    real = execute.train_job

    def spy(job, arrays, run_dir, reporter, *rest):
        data = execute.fold_data(job, arrays)
        seen[job.tag] = (len(data.train_x), data.train_w, job.teaching)
        return real(job, arrays, run_dir, reporter, *rest)

    monkeypatch.setattr(execute, "train_job", spy)
    result = kf("pseudo", "--from", "src", "--top-share", "0.5", "--weight", "0.5",
                "--epochs", "1", ws=ws)
    assert result.exit_code == 0, result.output
    meta = artifacts.read_run(ws, "src-pseudo")
    rows = meta.taught_by["test_rows"]
    src_test = artifacts.read_test_preds(ws.test_path("src")).set_index("id")
    for k in range(2):
        n, w, teaching = seen[f"fold{k}"]
        picked = len(rows[f"fold{k}"])
        assert picked > 0 and w is not None and (w[-picked:] == 0.5).all() and (w[:-picked] == 1).all()
        # the targets are the source's fold-k soft predictions of exactly those rows
        assert np.allclose(sorted(teaching.test_targets),
                           sorted(src_test.loc[rows[f"fold{k}"], f"pred_fold{k}"]))
    oof = artifacts.read_oof(ws.oof_path("src-pseudo"))
    assert sorted(oof["id"]) == sorted(discover(ws).train["id"])
    assert meta.taught_by["source"] == "src" and meta.taught_by["kind"] == "pseudo"
    assert json.loads(ws.run_files("src-pseudo").teacher.read_text())["settings"]["top_share"] == 0.5


def test_interrupted_pseudo_run_resumes_to_the_same_result(source):
    ws, opts = source, PseudoOptions(top_share=0.5)
    want = pseudo_run(ws, "src", opts, "clean")
    with pytest.raises(Interrupted):
        pseudo_run(ws, "src", opts, "broken", reporter=StopAfter("fold1", 1))
    got = pseudo_run(ws, "src", opts, "broken")
    assert got.taught_by["test_rows"] == want.taught_by["test_rows"]
    a = artifacts.read_oof(ws.oof_path("clean"))["pred"]
    b = artifacts.read_oof(ws.oof_path("broken"))["pred"]
    assert np.allclose(a, b, atol=1e-5)


def test_rerun_with_other_pseudo_options_is_refused(source):
    pseudo_run(source, "src", PseudoOptions(top_share=0.5), "p", overrides={"epochs": 1})
    with pytest.raises(KfError, match="taught by"):
        pseudo_run(source, "src", PseudoOptions(top_share=0.3), "p", overrides={"epochs": 1})


@pytest.mark.parametrize("args, fragment", [
    (["--from", "src", "--confidence", "0.999"], "selects no test image"),
    (["--from", "src", "--confidence", "0.4"], "--confidence must be"),
    (["--from", "src"], "give one of --confidence"),
    (["--from", "src", "--top-share", "0.5", "--confidence", "0.9"], "give one of"),
    (["--from", "src", "--top-share", "1.5"], "--top-share must be"),
    (["--from", "src", "--top-share", "0.5", "--weight", "0"], "--weight must be"),
    (["--from", "src", "--top-share", "0.5", "--labels", "fuzzy"], "--labels must be"),
    (["--from", "nope", "--top-share", "0.5"], "no finished run"),
])
def test_bad_pseudo_input_is_one_error_line_and_writes_nothing(source, args, fragment):
    before = sorted(p.relative_to(source.root) for p in source.root.rglob("*"))
    _one_line_error(kf("pseudo", *args, ws=source), fragment)
    assert sorted(p.relative_to(source.root) for p in source.root.rglob("*")) == before


def test_a_source_on_another_split_or_task_or_a_stack_is_refused(source):
    ws = source
    folds = artifacts.read_folds(ws.folds_path)
    moved = folds.assign(fold=1 - folds["fold"])
    with pytest.raises(KfError, match="another fold split"):
        pseudo_teacher(ws, "src", moved, PseudoOptions(top_share=0.5))
    artifacts.write_oof(ws.oof_path("stack-mean"), artifacts.read_oof(ws.oof_path("src")))
    artifacts.write_test_preds(ws.test_path("stack-mean"),
                               artifacts.read_test_preds(ws.test_path("src"))[["id", "pred"]])
    _one_line_error(kf("pseudo", "--from", "stack-mean", "--top-share", "0.5", ws=ws), "a stack")
    with pytest.raises(KfError, match="per-fold test predictions"):
        pseudo_teacher(ws, "stack-mean", folds, PseudoOptions(top_share=0.5))
    artifacts.update_run(ws, "src", task="multiclass")
    _one_line_error(kf("pseudo", "--from", "src", "--top-share", "0.5", ws=ws), "multiclass")


def test_retrain_learns_the_pseudo_labels_the_options_pick_from_the_fold_mean(source,
                                                                             monkeypatch):
    ws, seen, real = source, {}, execute.train_job

    def spy(job, arrays, run_dir, reporter, *rest):
        seen[job.tag] = execute.fold_data(job, arrays)
        return real(job, arrays, run_dir, reporter, *rest)

    pseudo_run(ws, "src", PseudoOptions(top_share=0.5, weight=0.5), "p", overrides={"epochs": 1})
    monkeypatch.setattr(execute, "train_job", spy)
    result = kf("retrain", "--run", "p", ws=ws)
    assert result.exit_code == 0, result.output
    mean = artifacts.read_test_preds(ws.test_path("src")).set_index("id")["pred"]
    picked = mean.index[select(mean.to_numpy(), "binary", PseudoOptions(top_share=0.5))]
    full, n_train = seen["full"], len(discover(ws).train)
    assert len(full.train_x) == n_train + len(picked)
    assert (full.train_w[n_train:] == 0.5).all() and (full.train_w[:n_train] == 1).all()
    np.testing.assert_allclose(np.sort(full.train_y[n_train:]), np.sort(mean[picked]))
    retrain = artifacts.read_run(ws, "p").taught_by["retrain"]
    assert retrain["test_rows"] == sorted(picked) and "fold-mean" in retrain["rule"]
    assert ws.full_test_path("p").exists()


def test_retrain_of_a_run_whose_source_changed_is_refused_and_writes_nothing(source):
    ws = source
    pseudo_run(ws, "src", PseudoOptions(top_share=0.5), "p", overrides={"epochs": 1})
    train_run(ws, TrainConfig(n_folds=2, image_size=32, epochs=1, batch_size=16, seed=0,
                              model_seed=3), "src", force=True)
    before = sorted(p.relative_to(ws.root) for p in ws.root.rglob("*"))
    _one_line_error(kf("retrain", "--run", "p", ws=ws), "changed since run 'p' learned")
    assert sorted(p.relative_to(ws.root) for p in ws.root.rglob("*")) == before
