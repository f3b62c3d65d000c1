"""A k-fold run: every fold trained (or skipped when already done), then the artifacts of
docs/architecture.md written: OOF and test predictions, run.json, training curves, a
submission. Framework-free: the run's backend (kfold.backends) trains each fold.

Resuming is file-based (kfold.train.tag): `fold<k>.result.json` marks a finished fold;
the backend's resume state lets an interrupted fold continue.
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from kfold import __version__, artifacts, atomic, locks, tracking
from kfold.artifacts import WIDE
from kfold.backends import Backend, Head, get_backend
from kfold.data.prepared import Prepared, prepare
from kfold.data.preprocess import Preprocess
from kfold.data.sources import Dataset, discover
from kfold.errors import KfError
from kfold.execute import Arrays, Executor, FoldJob, LocalExecutor
from kfold.folds import plan_folds
from kfold.plots import plot_training_curves
from kfold.progress import Reporter
from kfold.provenance import git_commit
from kfold.record import FoldResult, RunRecord
from kfold.runfiles import RunFiles, fold_tag
from kfold.scoring import get_metric
from kfold.submission import write_submission
from kfold.train.scores import oof_scores
from kfold.train.tag import finished_tag, record_tag
from kfold.train.teach import Teacher, check_same_teacher, write_teacher
from kfold.train_config import TrainConfig, read_train_config
from kfold.workspace import Workspace, check_new_run_name

# Called with (run, fold, result) for every fold of a run, in the order they come in (folds an
# earlier call finished first); it may raise to stop the runs (kf tune prunes a trial so).
OnFold = Callable[[str, int, FoldResult], None]


def default_run_name(cfg: TrainConfig) -> str:
    prefix = "" if cfg.backend == "torch" else f"{cfg.backend}-"
    return f"{prefix}{cfg.model}-{cfg.image_size}px"


@dataclass(frozen=True)
class RunPlan:
    """A run checked and ready to train; nothing of it written yet."""

    name: str
    cfg: TrainConfig
    files: RunFiles
    folds: pd.DataFrame
    new_split: bool
    force: bool
    labels: dict
    dataset: Dataset  # the sources found while planning, decoded by train_runs
    backend: Backend  # looked up once, here: every later step asks this object
    teacher: Teacher | None = None  # kf pseudo / kf distill: what it learns besides labels
    head: Head = Head()  # the task's output and metric (kfold.backends.Head)

    @property
    def data_key(self) -> str:
        """Runs with the same key train on the same decoded arrays."""
        return f"{Preprocess.of(self.cfg)}@{self.cfg.image_size}px"


def plan_run(ws: Workspace, cfg: TrainConfig, name: str | None = None, *, force: bool = False,
             note: str = "", tags: Sequence[str] = (),
             teach: Callable[[pd.DataFrame], Teacher] | None = None,
             dataset: Dataset | None = None) -> RunPlan:
    """Every check of a run that needs no image: the name, the config and the backend's
    checks, the fold split (ids and labels only), the teacher `teach` makes of that split
    (kfold.train.teach) and the run's old settings. `dataset`: the workspace's sources when
    the caller plans several runs (found once, here otherwise)."""
    name = check_new_run_name(default_run_name(cfg) if name is None else name)
    backend = get_backend(cfg.backend)
    backend.check_config(cfg)  # an unknown model or weights file fails first
    labels = {"note": note, "tags": check_tags(tags), "git_commit": git_commit(ws.root)}
    dataset = dataset or discover(ws)
    task = dataset.task
    head = head_of(task.kind, task.classes, task.metric(ws.config.metric).name)
    folds, new_split = plan_folds(ws, dataset.train, cfg.n_folds, cfg.seed,
                                  dataset.task.kind, dataset.task.classes)
    teacher = None if teach is None else teach(folds)
    files = ws.run_files(name)
    if not force:
        check_same_config(files, cfg)
        check_same_teacher(files, teacher)
    return RunPlan(name, cfg, files, folds, new_split, force, labels, dataset, backend,
                   teacher, head)


def head_of(kind: str, classes: Sequence[str], metric: str) -> Head:
    """The model output a task needs: one per class of a multi-class or multi-label task,
    and the contest metric that picks each fold's epoch."""
    return Head(kind, len(classes) if kind in WIDE else 1, metric)


def train_run(ws: Workspace, cfg: TrainConfig, name: str | None = None, *, force: bool = False,
              skip_bad: bool = False, note: str = "", tags: Sequence[str] = (),
              reporter: Reporter = Reporter(), executor: Executor | None = None) -> RunRecord:
    """Train (or finish) run `name` with `cfg`; return its run record. `note` and `tags`
    label the experiment (they are not config: they never block a resume); the workspace
    repository's git commit is recorded with them.

    Everything that can refuse the command runs before anything is written: `plan_run`'s
    checks, then the decoding of every image. Only then is the run locked, an old run
    replaced (`force`) and its folder written."""
    plan = plan_run(ws, cfg, name, force=force, note=note, tags=tags)
    return train_runs(ws, [plan], skip_bad=skip_bad, reporter=reporter, executor=executor)[0]


def train_runs(ws: Workspace, plans: Sequence[RunPlan], *, skip_bad: bool = False,
               reporter: Reporter = Reporter(), executor: Executor | None = None,
               on_fold: OnFold | None = None) -> list[RunRecord]:
    """Train several planned runs together: every unfinished fold of every run is one job
    of a single executor call, so on Ray they all spread over the cluster at once. The runs
    must share one fold split (they are meant to be stacked). `on_fold` hears each fold's
    result; an exception it raises stops the call, the folds recorded so far kept."""
    check_one_split(plans)
    tracker = tracking.for_workspace(ws)  # tracking_uri without mlflow fails here, not after
    # The executor joins its cluster and checks its resources before anything is written.
    with (executor or LocalExecutor()).open(reporter) as ex, ExitStack() as held:
        for plan in plans:
            ex.check_device(plan.backend, plan.cfg.device)
        started = time.perf_counter()
        datas: dict[str, Prepared] = {}  # one decoding per (preprocessing, image size)
        for plan in plans:
            if plan.data_key not in datas:
                datas[plan.data_key] = prepare(ws, Preprocess.of(plan.cfg), plan.cfg.image_size,
                                               skip_bad=skip_bad, reporter=reporter,
                                               dataset=plan.dataset)
        for plan in plans:
            held.enter_context(locks.hold(plan.files.lock, f"run {plan.name!r}", reporter))
        if plans and plans[0].new_split:
            atomic.write_csv(ws.folds_path, plans[0].folds)
        names = {key: f"data{i}" for i, key in enumerate(datas)}  # what FoldJob.arrays says
        folds = {p.name: _Folds(p, datas[p.data_key], names[p.data_key], reporter, on_fold)
                 for p in plans}
        created = {}
        try:
            for plan in plans:
                created[plan.name] = plan.force or not plan.files.dir.exists()
                claim_run_dir(ws, plan.files, plan.cfg, plan.force, reporter)
                write_teacher(plan.files, plan.teacher)
            arrays = {names[key]: Arrays(d.train.images, d.train_targets, d.test.images)
                      for key, d in datas.items()}
            jobs = [job for f in folds.values() for job in f.jobs()]
            ex.run(jobs, arrays, {p.name: p.files.dir for p in plans},
                   lambda job, outcome: folds[job.run].record(job, outcome), reporter)
        except BaseException:
            for plan in plans:
                if plan.name in created:
                    _discard_if_untouched(plan.files, created[plan.name])
            raise
        seconds = time.perf_counter() - started
        for p in plans:
            _say_rebuilt(ws, p.name, folds[p.name], reporter)
        records = [finish_run(ws, p, folds[p.name].data, folds[p.name].results(), seconds)
                   for p in plans]
    if tracker is not None:
        for plan in plans:
            tracker.log_run(ws, plan.name)
    return records


def check_one_split(plans: Sequence[RunPlan]) -> None:
    """Runs trained together share the fold split (different --folds or --seed do not)."""
    prints = {p.name: artifacts.folds_fingerprint(p.folds) for p in plans}
    if len(set(prints.values())) > 1:
        first = plans[0]
        other = next(p for p in plans if prints[p.name] != prints[first.name])
        raise KfError(f"runs {first.name!r} and {other.name!r} would use different fold splits "
                      f"(folds {first.cfg.n_folds} seed {first.cfg.seed} vs "
                      f"{other.cfg.n_folds} seed {other.cfg.seed}); runs trained together "
                      "must share one split to be stacked: give them the same folds and seed")


class _Folds:
    """A run's folds: those an earlier call finished (read back, on this split only) and
    the jobs of the others, recorded here as each finishes."""

    def __init__(self, plan: RunPlan, data: Prepared, arrays: str, reporter: Reporter,
                 on_fold: OnFold | None = None) -> None:
        self.plan, self.data, self.arrays, self.reporter = plan, data, arrays, reporter
        self.on_fold = on_fold
        self.fold_of = plan.folds.set_index("id")["fold"].loc[data.train.ids].to_numpy()
        self.fingerprint = artifacts.folds_fingerprint(plan.folds)
        self.done: dict[int, FoldResult] = {}
        self.trained = 0  # folds trained by this call

    def jobs(self) -> list[FoldJob]:
        files, cfg, usable = self.plan.files, self.plan.cfg, self.data.usable
        jobs = []
        for k in range(cfg.n_folds):
            in_fold = self.fold_of == k
            out = finished_tag(files, fold_tag(k), self.reporter, accept=self.same_split,
                               skip_note="already trained, skipping (use --force to retrain)",
                               test_ids=self.data.test.ids, kind=self.plan.head.kind,
                               val_ids=self.data.train.ids[in_fold & usable])
            if out is not None:
                self.finished(k, out)
                continue
            jobs.append(FoldJob(files.name, k, cfg, self.arrays,
                                np.flatnonzero(~in_fold & usable), np.flatnonzero(in_fold & usable),
                                self.teaching(k), head=self.plan.head))
        return jobs

    def teaching(self, k: int):
        teacher = self.plan.teacher
        return None if teacher is None else \
            teacher.teaching(k, self.data.train.ids, self.data.test.ids)

    def same_split(self, result: FoldResult) -> None:
        if result.folds_fingerprint != self.fingerprint:
            raise KfError(f"run {self.plan.name!r} was trained on another fold split than "
                          "folds.csv; pass --force to retrain it on the current folds")

    def record(self, job: FoldJob, result: FoldResult) -> None:
        val, data = job.val_rows, self.data
        result = record_tag(self.plan.backend, self.plan.files, job.tag,
                            dataclasses.replace(result, fold=job.fold,
                                                folds_fingerprint=self.fingerprint),
                            val_y=data.train_targets[val], val_ids=data.train.ids[val],
                            test_ids=data.test.ids, head=self.plan.head)
        title = get_metric(self.plan.head.metric).title
        self.reporter.log(f"{job.label}: best epoch {result.best_epoch}, "
                          f"val {title} {result.auc:.4f}")
        self.trained += 1
        self.finished(job.fold, result)

    def finished(self, k: int, result: FoldResult) -> None:
        self.done[k] = result
        if self.on_fold is not None:
            self.on_fold(self.plan.name, k, result)

    def results(self) -> list[FoldResult]:
        return [self.done[k] for k in range(self.plan.cfg.n_folds)]


def _taught_by(teacher: Teacher | None) -> dict:
    return {} if teacher is None else {"taught_by": teacher.lineage()}


def _discard_if_untouched(files: RunFiles, created: bool) -> None:
    """A run folder this call made that holds only its config goes again on failure."""
    if created and files.dir.exists() and \
            {p.name for p in files.dir.iterdir()} <= {files.config.name, files.teacher.name}:
        shutil.rmtree(files.dir)


def check_same_config(files: RunFiles, cfg: TrainConfig) -> None:
    """Refuse to mix a different config into an existing run (without writing anything)."""
    if not files.config.exists():
        return
    old = read_train_config(files.config)
    if old.comparable() != cfg.comparable():
        diff = {k: (v, cfg.comparable()[k]) for k, v in old.comparable().items()
                if cfg.comparable()[k] != v}
        raise KfError(
            f"run {files.name!r} exists with other settings {diff} (old, new); "
            "choose another --name or pass --force to retrain it"
        )


def claim_run_dir(ws: Workspace, files: RunFiles, cfg: TrainConfig, force: bool,
                  reporter: Reporter = Reporter()) -> RunFiles:
    """Make the run's folder ready (the caller holds its lock): with `force` the old run and
    its predictions go; temp files of killed writes go; config.json is written."""
    name = files.name
    if force and files.dir.exists():
        shutil.rmtree(files.dir)
        for path in (ws.oof_path(name), ws.test_path(name), ws.full_test_path(name)):
            path.unlink(missing_ok=True)
        reporter.log(f"--force: replaced the old run {name!r}")
    remove_stray_files(ws, name, reporter)
    new = not files.dir.exists()
    files.dir.mkdir(parents=True, exist_ok=True)
    try:
        atomic.write_json(files.config, cfg.to_dict())
    except (KfError, OSError):
        if new:  # a full disk or read-only folder leaves no empty run folder behind
            shutil.rmtree(files.dir, ignore_errors=True)
        raise
    return files


def remove_stray_files(ws: Workspace, name: str, reporter: Reporter) -> None:
    """Temp files that a killed write of this run left behind (run folder, oof/,
    submissions/)."""
    gone = atomic.remove_stray(ws.run_dir(name))
    gone += atomic.remove_stray(ws.oof_dir, [ws.oof_path(name).name, ws.test_path(name).name,
                                             ws.full_test_path(name).name])
    gone += atomic.remove_stray(ws.submissions_dir, [f"{name}.csv", f"{name}.json",
                                                     f"{name}-full.csv", f"{name}-full.json"])
    if gone:
        reporter.log(f"removed {len(gone)} temp file(s) of interrupted writes: "
                     + ", ".join(p.name for p in gone[:3]) + (" ..." if len(gone) > 3 else ""))


def _say_rebuilt(ws: Workspace, name: str, folds: _Folds, reporter: Reporter) -> None:
    """A run whose folds had all finished before this call: name the run files that were
    missing or damaged, which finish_run now rebuilds from the fold files."""
    if folds.trained:
        return
    readers = ((ws.oof_path(name), artifacts.read_oof), (ws.test_path(name), artifacts.read_test_preds),
               (ws.run_json(name), lambda path: artifacts.read_run(ws, name)))
    rebuilt = []
    for path, read in readers:
        try:
            read(path)
        except KfError:
            rebuilt.append(str(path.relative_to(ws.root)))
    if rebuilt:
        reporter.log(f"{name}: every fold had finished; rebuilt {', '.join(rebuilt)} "
                     "(missing or damaged) from the fold files")


def finish_run(ws: Workspace, plan: RunPlan, data: Prepared, fold_results: list[FoldResult],
               seconds: float) -> RunRecord:
    """Assemble OOF and test predictions (one column per class of a multi-class or
    multi-label task) from the folds' files and write every artifact."""
    name, cfg, folds, files = plan.name, plan.cfg, plan.folds, plan.files
    task = data.dataset.task
    kind, classes = task.kind, list(task.classes) if task.kind in WIDE else []
    columns = artifacts.pred_columns(kind, classes)
    preds = [np.load(files.preds(fold_tag(k))) for k in range(cfg.n_folds)]
    oof = _oof_frame(data, folds, preds, columns)
    artifacts.write_oof(ws.oof_path(name), oof, kind, classes)

    fold_preds = [np.asarray(p["test_pred"], dtype=float) for p in preds]
    test = data.test_predictions(np.mean(fold_preds, axis=0), columns)
    for k, pred in enumerate(fold_preds):
        wide = pd.DataFrame(pred.reshape(len(pred), -1),
                            columns=artifacts.pred_columns(kind, classes, f"pred_fold{k}"))
        test = pd.concat([test, wide], axis=1)
    test = test[["id", *[c for c in test.columns if c.startswith("pred_fold")], *columns]]
    artifacts.write_test_preds(ws.test_path(name), test, kind, classes)

    metric = task.metric(ws.config.metric)
    scores = oof_scores(task, metric, oof)
    oof_auc = scores.normalised  # the CV every command ranks by (docs/stack.md)
    fold_aucs = [r.auc for r in fold_results]
    record = RunRecord(
        name=name, model=cfg.model, backend=cfg.backend, config=cfg,
        folds_fingerprint=artifacts.folds_fingerprint(folds),
        data_fingerprint=data.dataset.fingerprint, folds=fold_results, oof_auc=oof_auc,
        oof_auc_pooled=scores.pooled,
        fold_auc_mean=float(np.mean(fold_aucs)), fold_auc_std=float(np.std(fold_aucs)),
        skipped_images=sorted(data.skipped), versions=package_versions(plan.backend),
        device=fold_results[-1].device,
        seconds=round(sum(r.seconds for r in fold_results), 2),
        wall_seconds_last_call=round(seconds, 2),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        task=kind, classes=list(task.classes), metric=metric.name,
        **plan.labels, **_taught_by(plan.teacher),
    )
    artifacts.write_run(ws, record)  # recorded before the curves and the submission
    tags = [fold_tag(k) for k in range(cfg.n_folds)]
    histories = {tag: pd.read_csv(files.history(tag)) for tag in tags
                 if files.history(tag).exists()}
    plot_training_curves(histories, files.curves, f"{name}: OOF {metric.title} {oof_auc:.4f}")
    record.submission = str(write_submission(
        ws, name, test[["id", *columns]], oof_auc,
        {"kind": "fold-mean", "runs": [name], "test_predictions": ws.test_path(name).name},
    ))
    artifacts.write_run(ws, record)  # again, with the submission
    return record


def _oof_frame(data: Prepared, folds: pd.DataFrame, preds: list, columns: list[str]) -> pd.DataFrame:
    """id, target (as kfold.data.task holds it), fold and the prediction column(s) of every
    validated training image, sorted by id."""
    parts = []
    for p in preds:
        val = np.asarray(p["val_pred"], dtype=float)
        part = pd.DataFrame(val.reshape(len(val), -1), columns=columns)
        parts.append(part.assign(id=p["val_ids"]))
    oof = pd.concat(parts, ignore_index=True)
    target = pd.Series(data.dataset.train["target"].to_numpy(), index=data.train.ids)
    oof["target"] = target.loc[oof["id"]].to_numpy()
    oof["fold"] = oof["id"].map(folds.set_index("id")["fold"]).astype(int)
    return oof.sort_values("id").reset_index(drop=True)


def check_tags(tags: Sequence[str]) -> list[str]:
    """Tags are short labels (no spaces, commas or newlines), kept in the order given."""
    out = []
    for t in tags:
        if not t or len(t) > 40 or any(c in t for c in " ,\n\t"):
            raise KfError(f"--tag {t!r}: a tag is 1 to 40 characters without spaces or commas")
        if t not in out:
            out.append(t)
    return out


def package_versions(backend: Backend) -> dict[str, str]:
    """kf's, Python's and the shared libraries' versions, and those of the framework that
    trained (`Backend.versions`)."""
    import sklearn

    return {"kfold": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "sklearn": sklearn.__version__} | backend.versions()
