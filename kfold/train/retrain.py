"""`kf retrain`: a finished k-fold run's model and config trained on 100% of the training
data, with no validation set, for a number of epochs derived from the folds.

Epochs rule: `round(mean(best_epoch + 1))` over the run's folds that did not collapse
(`best_epoch` is 0-based, so `best_epoch + 1` is the number of epochs a fold trained to reach
its kept checkpoint), at least 1; the cosine learning-rate schedule spans those epochs. The
rule, the folds' best epochs and the result are recorded in run.json under "retrain".

Writes `models/<run>/full.<ext>` (the backend's checkpoint, `full.pt` for torch),
`oof/<run>.full.test.parquet` (id, pred; the run's TTA) and `submissions/<run>-full.csv` whose
sidecar says lineage "retrain" and CV = the run's OOF AUC. A taught run (kf pseudo, kf
distill) retrains with the same teaching (TAUGHT_RULES), recorded in run.json under
"taught_by" -> "retrain". Resumable like training
(kfold.train.tag): a finished retrain (`full.result.json`) is not trained again, an
interrupted one continues from the backend's resume state. Dispatches through the run's
backend, so Keras runs retrain the same way.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone

import numpy as np

from kfold import artifacts, locks
from kfold.artifacts import WIDE
from kfold.backends import Backend, get_backend
from kfold.data.prepared import prepare
from kfold.data.preprocess import Preprocess
from kfold.data.sources import Dataset
from kfold.errors import KfError
from kfold.execute import Arrays, Executor, FoldJob, LocalExecutor
from kfold.progress import Reporter
from kfold.record import FoldResult, RetrainRecord, RunRecord
from kfold.runfiles import FULL_TAG
from kfold.settings import check_option
from kfold.submission import write_submission
from kfold.train.distill import full_distill_teacher
from kfold.train.pseudo import PseudoOptions, full_pseudo_teacher
from kfold.train.run import head_of, remove_stray_files
from kfold.train.tag import finished_tag, record_tag
from kfold.train.teach import Teacher
from kfold.train_config import TrainConfig, read_train_config
from kfold.workspace import Workspace

# What the retrain of a taught run (kf pseudo, kf distill) learns besides the labels.
TAUGHT_RULES = {
    "pseudo": "the test images the run's options pick from the source's fold-mean test "
              "predictions, with those labels and weight",
    "distill": "every training image's OOF soft target of the teacher (as the folds); with "
               "with_test, every test image from the teacher's fold mean",
}
EPOCHS_RULE = ("round(mean(best_epoch + 1)) over the folds that did not collapse (halves up), "
               "at least 1")


def retrain_epochs(folds: list[FoldResult]) -> int:
    """The retrain's epochs from the folds' results (see EPOCHS_RULE)."""
    usable = [r for r in folds if not r.collapsed and r.best_epoch >= 0]
    if not usable:
        raise KfError("every fold of this run collapsed or kept no checkpoint; "
                      "there is nothing sensible to retrain")
    mean = float(np.mean([r.best_epoch + 1 for r in usable]))
    return max(1, int(np.floor(mean + 0.5)))  # halves round up


def retrain_run(ws: Workspace, name: str, reporter: Reporter = Reporter(), *,
                device: str | None = None, executor: Executor | None = None) -> RunRecord:
    """Retrain run `name` on all training images (one job of `executor`, in this process
    by default); return the updated run record."""
    meta = _finished_run(ws, name)
    cfg = meta.config
    epochs = retrain_epochs(meta.folds)
    given = {"device": check_option("device", device)} if device else {}
    full_cfg = dataclasses.replace(cfg, epochs=epochs, **given)
    backend = get_backend(cfg.backend)
    backend.check_config(full_cfg)
    with (executor or LocalExecutor()).open(reporter) as ex:
        ex.check_device(backend, full_cfg.device)
        started = time.perf_counter()
        files = ws.run_files(name)
        data = prepare(ws, Preprocess.of(cfg), cfg.image_size,
                       skip_bad=bool(meta.skipped_images), reporter=reporter)
        if meta.data_fingerprint and data.dataset.fingerprint != meta.data_fingerprint:
            raise KfError(f"the training data changed since run {name!r} was trained "
                          f"({meta.data_fingerprint} then, {data.dataset.fingerprint} now); "
                          "retrain the folds first: kf train ... --force")
        teacher = full_teacher(ws, meta, data.dataset)
        with locks.hold(files.lock, f"run {name!r}", reporter):
            remove_stray_files(ws, name, reporter)
            return _retrain(ws, name, meta, epochs, full_cfg, backend, ex, data, reporter,
                            started, teacher)


def full_teacher(ws: Workspace, meta: RunRecord, dataset: Dataset) -> Teacher | None:
    """What a taught run's retrain learns besides the labels (TAUGHT_RULES), from the
    same source files its folds learned from (their sha256 recorded in teacher.json):
    a source trained again since is refused, since the folds and the retrain would have
    learned different lessons."""
    taught = meta.taught_by
    if not taught:
        return None
    source = taught["source"]
    if taught["kind"] == "pseudo":
        teacher = full_pseudo_teacher(ws, source, PseudoOptions(**taught["settings"]), dataset)
    else:
        teacher = full_distill_teacher(ws, source, taught["settings"]["with_test"],
                                       taught["test_weight"], dataset)
    if teacher.source_sha256 != taught["source_sha256"]:
        raise KfError(f"the predictions of {source!r} changed since run {meta.name!r} learned "
                      f"from them; a retrain would learn other lessons than its folds: train "
                      f"the taught run again first (its kf {taught['kind']} command with --force)")
    return teacher


def _retrain(ws: Workspace, name: str, meta: RunRecord, epochs: int, full_cfg: TrainConfig,
             backend: Backend, ex: Executor, data, reporter: Reporter,
             started: float, teacher: Teacher | None = None) -> RunRecord:
    """Train (or read back) the `full` tag (taught by `teacher`, if any) and write its
    predictions and submission."""
    files = ws.run_files(name)
    usable = data.usable
    head = head_of(meta.task, meta.classes, meta.metric)
    result = finished_tag(files, FULL_TAG, reporter, test_ids=data.test.ids, kind=meta.task,
                          skip_note="retrain already finished; rewriting its artifacts")
    if result is None:
        reporter.log(f"{name}: retraining on {int(usable.sum())} images for {epochs} epoch(s)")
        done: list[FoldResult] = []
        teaching = None if teacher is None else \
            teacher.teaching(0, data.train.ids, data.test.ids)
        ex.run([FoldJob(name, None, full_cfg, "data", np.flatnonzero(usable), head=head,
                        teaching=teaching)],
               {"data": Arrays(data.train.images, data.train_targets, data.test.images)},
               {name: files.dir},
               lambda job, trained: done.append(record_tag(
                   backend, files, FULL_TAG, trained, val_y=None, val_ids=None,
                   test_ids=data.test.ids, head=head)), reporter)
        result = done[0]

    classes = meta.classes if meta.task in WIDE else []
    test = data.test_predictions(result.test_pred, artifacts.pred_columns(meta.task, classes))
    artifacts.write_test_preds(ws.full_test_path(name), test, meta.task, classes)
    submission = write_submission(
        ws, f"{name}-full", test, meta.oof_auc,
        {"kind": "retrain", "runs": [name], "test_predictions": ws.full_test_path(name).name,
         "epochs": epochs},
    )
    taught = {} if teacher is None else {"taught_by": meta.taught_by | {"retrain": {
        "rule": TAUGHT_RULES[teacher.kind],
        "test_rows": sorted(teacher.fold_targets[0].index) if teacher.fold_targets else [],
        "train_targets": "oof" if teacher.train_targets is not None else None}}}
    return artifacts.update_run(ws, name, **taught, retrain=RetrainRecord(
        epochs=epochs, epochs_rule=EPOCHS_RULE,
        fold_best_epochs=[r.best_epoch for r in meta.folds], n_train=int(usable.sum()),
        checkpoint=backend.checkpoint_files(FULL_TAG)[0],
        test_predictions=ws.full_test_path(name).name, submission=str(submission),
        cv_auc=meta.oof_auc, seconds=result.seconds, device=result.device,
        where=result.where,
        wall_seconds_last_call=round(time.perf_counter() - started, 2),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    ))


def _finished_run(ws: Workspace, name: str) -> RunRecord:
    """run.json of a run whose folds all finished, or one clear error saying what to do."""
    files = ws.run_files(name)
    if not files.record.exists():
        finished = files.finished_folds()
        if finished:
            n_folds = read_train_config(files.config).n_folds
            raise KfError(f"run {name!r} has {len(finished)} of {n_folds} "
                          "folds finished; finish it first by re-running its kf train command")
        known = ", ".join(artifacts.list_runs(ws)) or "none"
        raise KfError(f"run {name!r} has no finished folds to retrain from; train it first "
                      f"with kf train --name {name} (finished runs: {known})")
    meta = artifacts.read_run(ws, name)
    if not meta.folds:
        raise KfError(f"run {name!r} has no finished folds to retrain from (run.json lacks "
                      "fold results); train it with kf train")
    return meta
