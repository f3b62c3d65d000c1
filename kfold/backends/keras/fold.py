"""One fold on Keras, with the original notebooks' callbacks.

Binary cross-entropy on a sigmoid output, the original metric set (tp fp tn fn accuracy
precision recall auc), `ModelCheckpoint` of the best model by validation AUC to
`<tag>.keras`, `EarlyStopping` on validation AUC, `ReduceLROnPlateau` on validation AUC, and
`BackupAndRestore` in `<tag>.backup/` so that an interrupted fold continues. A taught fold
(kf pseudo, kf distill) trains on soft targets with Keras's sample weights.

Another task (`kfold.backends.Head`): categorical cross-entropy on a softmax (multi-class,
one-hot targets so label smoothing applies), binary cross-entropy per label (multi-label),
MSE or Huber, PyTorch's smooth L1 (regression). Keras has no metric for the contest's, so
`ValidationScore` predicts the validation images after each epoch and logs their numbers as
the PyTorch loop computes them (kfold.backends.validation); the callbacks watch `val_score`
in the metric's direction.

The traps of Keras k-fold loops, and what closes each:
- metric names that gain suffixes (`val_auc_1`) when models are rebuilt in one process:
  every metric is built with an explicit name, and each fold starts with `clear_session()`;
  `check_metric_names` fails loudly if the monitored key is missing anyway;
- best weights restored only when early stopping fires: predictions always come from the
  `<tag>.keras` checkpoint, reloaded from disk, never from the in-memory model;
- callback state carried into the next fold (a reduced learning rate, early-stopping
  counters, the checkpoint's best value): model, optimizer and callbacks are new every fold;
  within an interrupted fold their counters are saved and restored with the backup.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import atomic
from kfold.backends import FoldData, Head
from kfold.backends.keras._tf import device_name, keras, tf, versions
from kfold.backends.keras.models import BuiltModel, build_model, output_kind, set_frozen
from kfold.backends.rules import (
    AUGMENT_FLIPS,
    TTA_VIEWS,
    collapse_reason,
    collapse_step,
    view_numpy,
)
from kfold.backends.validation import collapse_range, validation_row
from kfold.errors import KfError
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.runfiles import RunFiles
from kfold.scoring import get_metric
from kfold.train_config import TrainConfig

METRICS = ("tp", "fp", "tn", "fn", "accuracy", "precision", "recall", "auc")
MONITOR = "val_auc"


@keras.saving.register_keras_serializable(package="kfold")
class PredictionRange(keras.metrics.Metric):
    """max - min of the predicted probabilities: 0 when a model predicts one value for every
    image (the original VGG16 fine-tune's "always negative"), which AUC alone can hide."""

    def __init__(self, name: str = "pred_range", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.lo = self.add_variable(shape=(), initializer=keras.initializers.Constant(1e9),
                                    name="lo")
        self.hi = self.add_variable(shape=(), initializer=keras.initializers.Constant(-1e9),
                                    name="hi")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = keras.ops.cast(y_pred, "float32")
        self.lo.assign(keras.ops.minimum(self.lo, keras.ops.min(y_pred)))
        self.hi.assign(keras.ops.maximum(self.hi, keras.ops.max(y_pred)))

    def result(self):
        return keras.ops.maximum(self.hi - self.lo, 0.0)

    def reset_state(self):
        self.lo.assign(1e9)
        self.hi.assign(-1e9)


def metric_set() -> list:
    """The original notebooks' metrics, each with an explicit name (no `auc_1`), and the
    prediction range that detects a collapsed model."""
    m = keras.metrics
    return [m.TruePositives(name="tp"), m.FalsePositives(name="fp"),
            m.TrueNegatives(name="tn"), m.FalseNegatives(name="fn"),
            m.BinaryAccuracy(name="accuracy"), m.Precision(name="precision"),
            m.Recall(name="recall"),
            # finer than the default 200 thresholds: clustered early predictions
            m.AUC(name="auc", num_thresholds=1000),
            PredictionRange(name="pred_range")]


def fresh_model(cfg: TrainConfig, head: Head = Head()):
    """A new compiled model in a clean Keras session, seeded: the start of every fold."""
    built = fresh_built(cfg, head)
    compile_model(built.model, cfg, cfg.lr, head)
    return built.model


def fresh_built(cfg: TrainConfig, head: Head = Head()) -> BuiltModel:
    keras.utils.clear_session(free_memory=True)
    keras.utils.set_random_seed(cfg.init_seed)
    return build_model(cfg.model, cfg.image_size, cfg.dropout, cfg.weights, cfg.train_mode,
                       head)


def compile_model(model, cfg: TrainConfig, lr: float, head: Head = Head()) -> None:
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=lr, weight_decay=cfg.weight_decay or 0.0,
            gradient_accumulation_steps=cfg.grad_accum if cfg.grad_accum > 1 else None),
        loss=task_loss(cfg, head),
        metrics=metric_set() if head.kind == "binary" else [],
    )


def task_loss(cfg: TrainConfig, head: Head):
    """The training loss of `head`'s task (module docstring)."""
    losses = keras.losses
    if head.kind == "multiclass":
        return losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    if head.kind == "regression":
        return losses.Huber(delta=1.0) if cfg.regression_loss == "smooth-l1" \
            else losses.MeanSquaredError()
    return losses.BinaryCrossentropy(label_smoothing=cfg.label_smoothing)


def model_targets(y: np.ndarray, head: Head) -> np.ndarray:
    """Targets as the loss reads them: one-hot rows for a multi-class head's class indices,
    else as given (a teacher's class probabilities are rows already)."""
    if head.kind == "multiclass" and np.ndim(y) == 1:
        return np.eye(head.width, dtype="float32")[np.asarray(y, dtype=int)]
    return np.asarray(y, dtype="float32")


def phases(cfg: TrainConfig) -> list[tuple[int, int, bool]]:
    """(first epoch, end epoch, backbone frozen): one phase, or two with --unfreeze-after
    (head first, then everything, recompiled at the learning rate reached)."""
    cut = cfg.unfreeze_after
    if cut is None or cut <= 0 or cut >= cfg.epochs:
        return [(0, cfg.epochs, cfg.frozen_at(0))]
    return [(0, cut, True), (cut, cfg.epochs, False)]


# --------------------------------------------------------------------------- data


def augment_batch(x, mode: str):
    """The flips of `AUGMENT_FLIPS[mode]` (kfold.backends.rules), each drawn per image with
    probability 1/2, on a float batch (B, S, S, 1)."""
    b = tf.shape(x)[0]
    for flip in AUGMENT_FLIPS[mode]:
        pick = tf.reshape(tf.random.uniform([b]) < 0.5, [-1, 1, 1, 1])
        x = tf.where(pick, _FLIPS[flip](x), x)
    return x


_FLIPS = {
    "mirror": lambda t: tf.reverse(t, [2]),
    "upside_down": lambda t: tf.reverse(t, [1]),
    "transpose": lambda t: tf.transpose(t, [0, 2, 1, 3]),
}


def train_dataset(x: np.ndarray, y: np.ndarray, cfg: TrainConfig, head: Head = Head(),
                  w: np.ndarray | None = None):
    """Shuffled uint8 batches cast to float and augmented on the batch; a last partial
    batch is dropped (a batch of one breaks batch-norm). With per-image weights `w` (a
    taught fold), (x, y, w) batches: Keras's sample weights."""
    n = len(x)
    parts = (x[..., None], model_targets(y, head), *([] if w is None else [w.astype("float32")]))
    ds = tf.data.Dataset.from_tensor_slices(parts)
    ds = ds.shuffle(n, seed=cfg.init_seed, reshuffle_each_iteration=True)
    ds = ds.batch(cfg.batch_size, drop_remainder=n > cfg.batch_size)
    ds = ds.map(lambda a, *rest: (augment_batch(tf.cast(a, tf.float32), cfg.augment), *rest),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(x: np.ndarray, y: np.ndarray | None, batch_size: int):
    ds = (tf.data.Dataset.from_tensor_slices(x[..., None]) if y is None else
          tf.data.Dataset.from_tensor_slices((x[..., None], y.astype("float32"))))
    cast = ((lambda a: tf.cast(a, tf.float32)) if y is None else
            (lambda a, b: (tf.cast(a, tf.float32), b)))
    return ds.batch(batch_size).map(cast).prefetch(tf.data.AUTOTUNE)


def predict(model, images: np.ndarray, cfg: TrainConfig, tta: str | None = None) -> np.ndarray:
    """Predictions (float64) averaged over the TTA views: probabilities of defect (N,), per
    class or label (N, C), or values (N,) of a regression model."""
    kind, width = output_kind(model), model.output_shape[-1]
    if len(images) == 0:
        return np.zeros(0 if width == 1 else (0, width))
    preds = [model.predict(eval_dataset(np.ascontiguousarray(view_numpy(images, view)), None,
                                        cfg.batch_size * 2), verbose=0)
             for view in TTA_VIEWS[tta or cfg.tta]]
    mean = np.mean(preds, axis=0).astype(np.float64)
    mean = mean[:, 0] if width == 1 else mean
    return mean if kind == "regression" else np.clip(mean, 0.0, 1.0)


def load_checkpoint(path: Path):
    if not path.exists():
        raise KfError(f"{path}: no such Keras checkpoint (was this fold trained?)")
    return keras.saving.load_model(path, compile=False)


# --------------------------------------------------------------------------- callbacks


class FoldLog(keras.callbacks.Callback):
    """History rows in the shared schema, the progress bar, and the fold's resumable state.

    It must come after the checkpoint, early-stopping, plateau and backup callbacks: on
    train begin it restores their counters (after they reset them), on epoch end it reads
    what they decided.
    """

    def __init__(self, state_path: Path, ckpt, stopper, plateau, bar, validate: bool,
                 collapse_limit: int = 3, scorer: ValidationScore | None = None) -> None:
        super().__init__()
        self.state_path, self.bar, self.validate = state_path, bar, validate
        self.scorer = scorer  # None: Keras's own metrics score the validation images
        self.ckpt, self.stopper, self.plateau = ckpt, stopper, plateau
        self.rows: list[dict] = []
        self.best_epoch, self.seconds, self.stopped = -1, 0.0, False
        self.collapsed_epochs, self.collapsed, self.collapse_limit = 0, None, collapse_limit
        self.next_lr: float | None = None  # after the plateau callback's decision
        self._lr, self._started, self._best_before = float("nan"), 0.0, None

    # -- persistence
    def state(self) -> dict:
        s = {"rows": self.rows, "best_epoch": self.best_epoch, "seconds": self.seconds,
             "stopped": self.stopped, "ckpt_best": _num(self.ckpt.best),
             "collapsed_epochs": self.collapsed_epochs, "collapsed": self.collapsed,
             "next_lr": self.next_lr}
        if self.stopper is not None:
            s["stopper"] = {"wait": self.stopper.wait, "best": _num(self.stopper.best),
                            "best_epoch": self.stopper.best_epoch}
        s["plateau"] = {"wait": self.plateau.wait, "best": _num(self.plateau.best),
                        "cooldown_counter": self.plateau.cooldown_counter}
        return s

    def restore(self, initial_epoch: int) -> None:
        if not self.state_path.exists():
            return
        s = json.loads(self.state_path.read_text())
        self.rows = [r for r in s["rows"] if r["epoch"] < initial_epoch]
        self.best_epoch, self.seconds = s["best_epoch"], s["seconds"]
        self.stopped = s["stopped"]
        self.collapsed_epochs, self.collapsed = s["collapsed_epochs"], s["collapsed"]
        self.next_lr = s.get("next_lr")
        self.ckpt.best = s["ckpt_best"]
        if self.stopper is not None and "stopper" in s:
            for k, v in s["stopper"].items():
                setattr(self.stopper, k, v)
        for k, v in s["plateau"].items():
            setattr(self.plateau, k, v)

    # -- keras hooks
    def on_train_begin(self, logs=None):
        initial = getattr(self.model, "_initial_epoch", None) or 0
        before = len(self.rows)
        self.restore(initial)  # also between the two phases of --unfreeze-after
        self.bar.advance(max(0, len(self.rows) - before))

    def on_epoch_begin(self, epoch, logs=None):
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._started = time.perf_counter()
        self._best_before = self.ckpt.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch, "train_loss": float(logs["loss"]), "lr": self._lr}
        if self.validate:
            row |= self._validation(logs)
            chance = row["auc"] if self.scorer is None or self.scorer.head.metric == "auc" \
                else float("nan")  # the AUC <= 0.5 rule
            reason = collapse_reason(row["pred_range"], chance)
            self.collapsed_epochs, verdict = collapse_step(self.collapsed_epochs, reason, epoch,
                                                           self.collapse_limit)
            if verdict and not self.collapsed:
                self.collapsed = verdict
                self.model.stop_training = True
        row |= {f"train_{m}": float(logs[m]) for m in METRICS if m in logs}
        self.rows.append(row)
        if not self.validate or self.ckpt.best != self._best_before:
            self.best_epoch = epoch
        self.seconds += time.perf_counter() - self._started
        self.stopped = bool(self.model.stop_training)
        self.next_lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        atomic.write_json(self.state_path, self.state())
        self.bar.advance(1, loss=row["train_loss"],
                         **({self._metric: row["score"]} if self.validate else {}))

    def _validation(self, logs: dict) -> dict:
        """The epoch's validation numbers: Keras's metrics, or the scorer's."""
        if self.scorer is not None:
            return self.scorer.row | {"pred_range": logs["val_pred_range"]}
        check_metric_names(logs)
        row = {"val_loss": float(logs["val_loss"])} | {m: float(logs[f"val_{m}"])
                                                       for m in METRICS}
        return row | {"score": row["auc"],
                      "pred_range": float(logs.get("val_pred_range", float("nan")))}

    @property
    def _metric(self) -> str:
        return "auc" if self.scorer is None else self.scorer.head.metric


class ValidationScore(keras.callbacks.Callback):
    """The contest metric of the validation images after each epoch, in the logs as
    `val_score` (and `val_loss`, `val_pred_range`) before the checkpoint, early-stopping and
    plateau callbacks read them: Keras has no metric for most contests' scores."""

    def __init__(self, val_x: np.ndarray, val_y: np.ndarray, head: Head,
                 cfg: TrainConfig) -> None:
        super().__init__()
        self.val_x, self.val_y, self.head, self.cfg = val_x, val_y, head, cfg
        self.row: dict = {}

    def on_epoch_end(self, epoch, logs=None):
        p = predict(self.model, self.val_x, self.cfg)
        self.row = validation_row(self.head, self.val_y, p)
        if logs is not None:
            logs.update(val_loss=self.row["val_loss"], val_score=self.row["score"],
                        val_pred_range=collapse_range(self.head, p))


def check_metric_names(logs: dict) -> None:
    """The monitored keys must be exactly the ones the callbacks watch."""
    missing = [f"val_{m}" for m in METRICS if f"val_{m}" not in logs]
    if missing:
        raise RuntimeError(f"Keras logged {sorted(logs)}, without {missing}: metric names "
                           "changed (suffixes?), so the callbacks would watch nothing")


def _num(v):
    return None if v is None else float(v)


# --------------------------------------------------------------------------- the fold


def check_fold_data(cfg: TrainConfig, train_x, train_y, val_x, val_y,
                    head: Head = Head(), taught: bool = False) -> None:
    """Shapes and targets a fold can train on; a `taught` fold's training targets may be
    soft (probabilities in [0, 1], multi-class rows of them)."""
    s = cfg.image_size
    for name, x, y in (("training", train_x, train_y), ("validation", val_x, val_y)):
        if x is None:
            continue
        if x.ndim != 3 or x.shape[1:] != (s, s):
            raise KfError(f"{name} images must be shaped (N, {s}, {s}), got {x.shape}")
        if y is None or len(y) != len(x):
            raise KfError(f"{name}: {len(x)} images but "
                          f"{'no' if y is None else len(y)} targets")
        soft = taught and name == "training"
        if len(x) and (why := (_bad_soft_targets if soft else _bad_targets)(np.asarray(y), head)):
            raise KfError(f"{name} targets must be {why}")
    if len(train_x) < 2:
        raise KfError(f"need at least 2 training images, got {len(train_x)}")
    if cfg.pos_weight is not None and head.kind != "binary":
        raise KfError(f"--pos-weight weighs the defects of a binary task; this is a "
                      f"{head.kind} task")
    if cfg.pos_weight is not None and taught:
        raise KfError("--pos-weight is Keras's class_weight, which soft targets and per-image "
                      "weights (kf pseudo, kf distill) exclude: train without it")


def _bad_soft_targets(y: np.ndarray, head: Head) -> str | None:
    """What a taught fold's training targets must be, when `y` is not that; else None."""
    if head.kind == "regression":
        return _bad_targets(y, head)
    rows = head.kind in ("multiclass", "multilabel")
    ok = (y.ndim == 2 and y.shape[1] == head.width) if rows else y.ndim == 1
    ok = ok and np.isfinite(y).all() and ((y >= 0) & (y <= 1)).all()
    what = f"rows of {head.width} probabilities" if rows else "probabilities"
    return None if ok else f"{what} in [0, 1]"


def _bad_targets(y: np.ndarray, head: Head) -> str | None:
    """What `head`'s targets must be, when `y` is not that; else None."""
    if head.kind == "regression":
        return None if np.isfinite(y.astype(float)).all() else "finite numbers"
    if head.kind == "multiclass":
        ok = y.ndim == 1 and np.isin(y, np.arange(head.width)).all()
        return None if ok else f"class indices 0 to {head.width - 1}"
    if head.kind == "multilabel":
        ok = y.ndim == 2 and y.shape[1] == head.width and np.isin(y, (0, 1)).all()
        return None if ok else f"0/1 rows of {head.width} labels"
    return None if np.isin(np.unique(y), (0, 1)).all() else "0 or 1"


def fit_epochs(cfg: TrainConfig, train_x: np.ndarray, train_y: np.ndarray,
               val_x: np.ndarray | None, val_y: np.ndarray | None, run_dir: Path, tag: str,
               reporter: Reporter | None = None, extra_callbacks: tuple = (),
               head: Head = Head(), train_w: np.ndarray | None = None) -> FoldResult:
    """The epoch loop of one fold (`train_fold` = this + predictions); write `<tag>.keras`
    (best by validation AUC, or the last epoch when there is no validation) and
    `history_<tag>.csv`; return the fold's result.

    `extra_callbacks` run first, before the checkpoint sees the epoch's logs (tests use it).
    The callbacks share state through FoldLog and are wired, restored and run in one order,
    here; `_monitors` builds the ones that watch the metric, `_result` reads the outcome.
    """
    check_fold_data(cfg, train_x, train_y, val_x, val_y, head, taught=train_w is not None)
    reporter = reporter or Reporter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    validate = val_x is not None
    ckpt_path, backup_dir = run_dir / f"{tag}.keras", run_dir / f"{tag}.backup"
    state_path = backup_dir / "kfold_state.json"
    if not backup_dir.exists():  # a fresh fold: no stale checkpoint may survive
        ckpt_path.unlink(missing_ok=True)

    built = fresh_built(cfg, head)
    model = built.model
    ckpt, stopper, plateau = _monitors(cfg, ckpt_path, validate, head)
    scorer = ValidationScore(val_x, val_y, head, cfg) if validate and _scored(head) else None
    backup = keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False)

    previous = json.loads(state_path.read_text()) if state_path.exists() else None
    with reporter.task(tag, cfg.epochs) as bar:
        log = FoldLog(state_path, ckpt, stopper, plateau, bar, validate, cfg.collapse_epochs,
                      scorer)
        if previous and (previous["stopped"] or len(previous["rows"]) >= cfg.epochs):
            log.restore(len(previous["rows"]))  # finished before the interruption
            reporter.log(f"{tag}: training had finished; predicting with the checkpoint")
        else:
            done = len(previous["rows"]) if previous else 0
            if done:
                reporter.log(f"{tag}: resuming after epoch {done}")
            callbacks = [*([scorer] if scorer else []), *extra_callbacks, ckpt,
                         *([stopper] if stopper else []), plateau, backup, log]
            class_weight = None if cfg.pos_weight is None else {0: 1.0, 1: cfg.pos_weight}
            train_ds = train_dataset(train_x, train_y, cfg, head, train_w)
            val_ds = eval_dataset(val_x, val_y, cfg.batch_size * 2) \
                if validate and scorer is None else None
            lr = (previous or {}).get("next_lr") or cfg.lr
            for first, end, frozen in phases(cfg):
                if end <= done or log.stopped:
                    continue
                set_frozen(built, frozen)
                compile_model(model, cfg, lr, head)
                if first > 0:
                    reporter.log(f"{tag}: backbone unfrozen from epoch {first}")
                model.fit(train_ds, epochs=end, initial_epoch=max(first, done),
                          validation_data=val_ds, callbacks=callbacks,
                          class_weight=class_weight, shuffle=False, verbose=0)
                lr = log.next_lr or lr
    if not ckpt_path.exists():
        raise KfError(f"{tag}: no checkpoint was written (validation AUC never computed?)")
    _drop_optimizer(ckpt_path)
    atomic.write_csv(RunFiles(run_dir).history(tag), pd.DataFrame(log.rows))
    return _result(log, cfg)


def _scored(head: Head) -> bool:
    """Whether `ValidationScore` scores the validation images (Keras's AUC scores a binary
    AUC contest, as in the original notebooks)."""
    return not (head.kind == "binary" and head.metric == "auc")


def _monitors(cfg: TrainConfig, ckpt_path: Path, validate: bool, head: Head = Head()) -> tuple:
    """(checkpoint, early stopper or None, plateau LR schedule): with validation they watch
    its contest metric in its direction and keep the best model; without, a fixed number of
    epochs on everything keeps the last model and the schedule watches the training loss."""
    plateau_patience = max(1, cfg.patience // 2)
    if not validate:
        ckpt = keras.callbacks.ModelCheckpoint(ckpt_path, save_best_only=False)
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor="loss", mode="min", factor=0.5, patience=plateau_patience,
            min_lr=cfg.lr / 100)
        return ckpt, None, plateau
    monitor = "val_score" if _scored(head) else MONITOR
    mode = get_metric(head.metric).direction
    ckpt = keras.callbacks.ModelCheckpoint(ckpt_path, monitor=monitor, mode=mode,
                                           save_best_only=True)
    stopper = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=cfg.patience,
                                            restore_best_weights=False)
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, mode=mode, factor=0.5, patience=plateau_patience, min_lr=cfg.lr / 100)
    return ckpt, stopper, plateau


def _result(log: FoldLog, cfg: TrainConfig) -> FoldResult:
    """The fold's result from its log: the best epoch's validation score (the contest
    metric's; `val_auc` by its old name), how it ended."""
    best = log.rows[log.best_epoch] if log.rows and log.best_epoch >= 0 else {}
    return FoldResult(best_epoch=log.best_epoch, epochs_run=len(log.rows),
                      val_auc=float(best.get("score", float("nan"))),
                      collapsed=log.collapsed, seconds=round(log.seconds, 2),
                      extra={"stopped_early": bool(log.stopped and len(log.rows) < cfg.epochs),
                             "final_lr": log.rows[-1]["lr"] if log.rows else cfg.lr})


def _drop_optimizer(path: Path) -> None:
    """Rewrite a checkpoint without its optimizer state (a third of ResNet50's file, and
    of no use once the fold is over); the resumable state lives in the backup folder."""
    model = load_checkpoint(path)
    with atomic.atomic_path(path) as tmp:
        named = Path(f"{tmp}.keras")  # Keras insists on the suffix
        model.save(named)
        named.replace(tmp)


def train_fold(cfg: TrainConfig, data: FoldData, test_x: np.ndarray, run_dir: Path, tag: str,
               reporter: Reporter | None = None, extra_callbacks: tuple = ()) -> FoldResult:
    """`KerasBackend.train_fold`: train, then predict validation and test images with the
    kept checkpoint, reloaded from disk."""
    run_dir = Path(run_dir)
    with placed(cfg.device):
        result = fit_epochs(cfg, data.train_x, data.train_y, data.val_x, data.val_y, run_dir,
                            tag, reporter, extra_callbacks, data.head, data.train_w)
        model = load_checkpoint(run_dir / f"{tag}.keras")
        val_pred = None if data.val_x is None else predict(model, data.val_x, cfg)
        test_pred = predict(model, test_x, cfg)
    v = versions()
    framework = {"framework": f"keras {v['keras']} / tensorflow {v['tensorflow']}"}
    return dataclasses.replace(result, device="cpu" if cfg.device == "cpu" else device_name(),
                               extra=result.extra | framework,
                               val_pred=val_pred, test_pred=test_pred)


def placed(device: str | None):
    """TensorFlow on the CPU for --device cpu; otherwise where TensorFlow places work."""
    return tf.device("/CPU:0") if device == "cpu" else contextlib.nullcontext()
