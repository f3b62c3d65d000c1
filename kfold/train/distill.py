"""`kf distill`: one student model trained in k folds on an ensemble's soft predictions, so
that one network can stand in for a 5-fold x several-model ensemble under a code
competition's runtime limit.

The student's training images learn the teacher's OOF predictions (each made by a model
that did not train on that image: the student learns the ensemble's out-of-fold behaviour,
not a memorised copy); with `with_test`, fold k also learns every test image from the
teacher's fold-k model (kfold.train.teach's no-leak rule; a stack teacher has no per-fold
test predictions and teaches training images only). The student validates on the real
labels, so its OOF AUC compares with the teacher's and with its twin `<name>-hard`: the same
config trained in the same call on the hard labels. The report adds inference speed: the
seconds one student model takes to predict the test images against every model of the
ensemble (a stack's models are those of the runs it blends).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from kfold import artifacts
from kfold.backends import get_backend
from kfold.data.prepared import prepare
from kfold.data.preprocess import Preprocess
from kfold.data.sources import Dataset, discover
from kfold.data.task import Task
from kfold.errors import KfError, check_number
from kfold.execute import Executor
from kfold.progress import Reporter
from kfold.record import RunRecord
from kfold.runfiles import fold_tag
from kfold.scoring import get_metric
from kfold.submission import read_sidecar
from kfold.train.run import plan_run, train_runs
from kfold.train.teach import (
    Teacher,
    check_task,
    predictions,
    sha256_of,
    source_fold_tests,
    source_oof,
    source_score,
)
from kfold.train_config import TrainConfig
from kfold.views import Col, num, table
from kfold.workspace import Workspace


@dataclass(frozen=True)
class DistillReport:
    """The student against its teacher and its hard-label twin (OOF score in `metric`, the
    contest's; `*_auc` names kept from binary-only reports), and how long one student model
    and the whole ensemble take to predict the test images."""

    teacher: str
    teacher_auc: float
    student: str
    student_auc: float
    hard: str
    hard_auc: float
    n_images: int
    teacher_models: int
    teacher_seconds: float
    student_seconds: float
    metric: str = "auc"

    @property
    def speedup(self) -> float:
        return self.teacher_seconds / max(self.student_seconds, 1e-9)


def distill_teacher(ws: Workspace, teacher: str, folds: pd.DataFrame, *, with_test: bool,
                    test_weight: float, dataset: Dataset | None = None) -> Teacher:
    """Soft targets of a student on split `folds`: the teacher's OOF predictions for the
    training images and, `with_test`, fold k's test targets from the teacher's fold-k model
    (in the task's form, kfold.train.teach). `dataset`: the workspace's sources."""
    dataset = dataset or discover(ws)
    oof = source_oof(ws, teacher, folds, dataset.task.kind)
    tests = source_fold_tests(ws, teacher, int(folds["fold"].max()) + 1, dataset) \
        if with_test else []
    return _teacher(ws, teacher, with_test, test_weight, dataset.task, oof, tests)


def full_distill_teacher(ws: Workspace, teacher: str, with_test: bool, test_weight: float,
                         dataset: Dataset) -> Teacher:
    """A student's lessons for its retrain on 100% (kf retrain): every training image's
    OOF soft target, as the folds learned them, and (`with_test`) every test image from
    the teacher's fold mean (`pred`): no image validates a retrain, so no fold model need
    be left out. One frame in `fold_targets`, the retrain's."""
    task = dataset.task
    oof = artifacts.read_oof(ws.oof_path(teacher), task.kind)
    tests = [predictions(artifacts.read_test_preds(ws.test_path(teacher), task.kind), task)] \
        if with_test else []
    return _teacher(ws, teacher, with_test, test_weight, task, oof, tests)


def _teacher(ws: Workspace, teacher: str, with_test: bool, test_weight: float, task: Task,
             oof: pd.DataFrame, tests: list[pd.DataFrame]) -> Teacher:
    files = [ws.oof_path(teacher), *([ws.test_path(teacher)] if with_test else [])]
    return Teacher("distill", teacher, {"with_test": with_test}, sha256_of(*files),
                   source_score(ws, teacher, oof, task), predictions(oof, task), tests,
                   test_weight, task.kind)


def distill_run(ws: Workspace, teacher: str, options: dict, name: str | None = None, *,
                with_test: bool = False, test_weight: float = 1.0, force: bool = False,
                tags: Sequence[str] = (), reporter: Reporter = Reporter(),
                executor: Executor | None = None) -> DistillReport:
    """Train the student `name` (default `<teacher>-distilled`; TrainConfig `options` on
    the teacher's folds and seed) and its hard-label twin `<name>-hard` together; measure
    and record (run.json taught_by.report) the comparison."""
    check_number("--test-weight", test_weight, low=0, high=100, low_open=True)
    members = [artifacts.read_run(ws, run) for run in ensemble_runs(ws, teacher)]
    dataset = discover(ws)
    for member in members:
        check_task(member, dataset.task)
    split = {"n_folds": members[0].config.n_folds, "seed": members[0].config.seed}
    cfg = TrainConfig.from_options(ws, split | {k: v for k, v in options.items()
                                                if v is not None})
    name = name or f"{teacher}-distilled"
    student = plan_run(ws, cfg, name, force=force, tags=tags, dataset=dataset,
                       teach=lambda folds: distill_teacher(ws, teacher, folds,
                                                           with_test=with_test,
                                                           test_weight=test_weight,
                                                           dataset=dataset))
    hard = plan_run(ws, cfg, f"{name}-hard", force=force, tags=tags, dataset=student.dataset)
    records = train_runs(ws, [student, hard], reporter=reporter, executor=executor)
    report = _report(ws, teacher, members, records, reporter)
    artifacts.update_run(ws, name, taught_by=records[0].taught_by | {"report": asdict(report)})
    return report


def ensemble_runs(ws: Workspace, teacher: str) -> list[str]:
    """The k-fold runs whose models make up `teacher`: itself, or the runs a stack blends."""
    if ws.run_json(teacher).exists():
        return [teacher]
    side = read_sidecar(ws.submission_path(teacher)) or {}
    runs = (side.get("lineage") or {}).get("runs")
    if not ws.oof_path(teacher).exists() or not runs:
        raise KfError(f"teacher {teacher!r} has no OOF predictions (no run or stack of that "
                      "name; see `kf runs`): train or stack it first")
    missing = [r for r in runs if not ws.run_json(r).exists()]
    if missing:
        raise KfError(f"stack {teacher!r} blends {missing}, which are no finished runs here; "
                      "its models cannot be timed")
    return list(runs)


def _report(ws: Workspace, teacher: str, members: list[RunRecord], records: list[RunRecord],
            reporter: Reporter) -> DistillReport:
    student, hard = records
    student_cfg = student.config
    # One untimed call first: the process's first prediction pays the framework's warm-up.
    _predict_seconds(ws, student.name, student_cfg, fold_tag(0), reporter)
    n_images, teacher_seconds, models = 0, 0.0, 0
    for member in members:
        for k in range(member.config.n_folds):
            n_images, seconds = _predict_seconds(ws, member.name, member.config, fold_tag(k),
                                                 reporter)
            teacher_seconds += seconds
            models += 1
    _, student_seconds = _predict_seconds(ws, student.name, student_cfg, fold_tag(0), reporter)
    return DistillReport(teacher, student.taught_by["source_oof_auc"], student.name,
                         student.oof_auc, hard.name, hard.oof_auc, n_images, models,
                         round(teacher_seconds, 3), round(student_seconds, 3), student.metric)


def _predict_seconds(ws: Workspace, run: str, cfg: TrainConfig, tag: str,
                     reporter: Reporter) -> tuple[int, float]:
    """(test images, seconds) of one model of `run` predicting them, loading included:
    what a code competition's notebook pays per model."""
    images = prepare(ws, Preprocess.of(cfg), cfg.image_size, skip_bad=True,
                     reporter=reporter).test.images
    started = time.perf_counter()
    get_backend(cfg.backend).predict(cfg, ws.run_dir(run), tag, images)
    return len(images), time.perf_counter() - started


def report_table(report: DistillReport):
    """The comparison as a table: OOF score of each, and test-set inference time."""
    title = get_metric(report.metric).title
    rows = [
        [f"{report.teacher} (teacher)", report.teacher_models, num(report.teacher_auc, ".4f"),
         num(report.teacher_seconds, ".2f"), "1.0x"],
        [f"{report.student} (student, soft targets)", 1, num(report.student_auc, ".4f"),
         num(report.student_seconds, ".2f"), f"{report.speedup:.1f}x"],
        [f"{report.hard} (same model, hard labels)", 1, num(report.hard_auc, ".4f"), "", ""],
    ]
    return table(f"distillation: predicting {report.n_images} test images",
                 ["run", Col("models", right=True), Col(f"OOF {title}", right=True),
                  Col("seconds", right=True), Col("speed", right=True)], rows,
                 caption="seconds: loading and predicting with every model (the student: one "
                         f"fold model); OOF {title} on the real labels of the training "
                         "images, as kf runs ranks it")
