"""One fold's training: the task's head and loss (kfold.backends.torch.heads: BCE on one
logit for a binary task), AdamW, cosine-decaying learning rate, early stopping on the
contest's metric (validation AUC for a binary task), the best checkpoint kept, and the full
state saved every epoch so that an interrupted fold continues where it stopped.

Training modes (TrainConfig): `finetune` trains everything, the backbone at
`cfg.backbone_lr` and the new head at `cfg.lr`; `head` freezes the backbone's weights and its
batch-norm statistics; `unfreeze_after=N` is `head` for N epochs, then `finetune`. A fold
whose validation predictions collapse (constant, one class for every image, or AUC <= 0.5)
for `cfg.collapse_epochs` epochs in a row is stopped and marked `collapsed` in its result.
The checkpoint records the head (`Head`), so predicting needs nothing but the file.

Resume: `<tag>.last.pt` holds model, optimiser, scheduler, the loader's generator, the CPU
(and CUDA) RNG states and the loop's state, written atomically after every epoch; a rerun
continues from it and ends with the same history, best epoch and checkpoint as an
uninterrupted run. No GradScaler is used (bf16 autocast needs none), so none is saved.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from kfold import atomic
from kfold.backends import FoldData, Head
from kfold.backends.rules import TTA_VIEWS, checkpoint_verdict, collapse_reason, collapse_step
from kfold.backends.torch.heads import activate, loss_fn, widen
from kfold.backends.torch.loader import DeviceBatches, apply_view, to_device
from kfold.backends.torch.recipe import Recipe, make_recipe, scheduler
from kfold.backends.validation import collapse_range, validation_row
from kfold.errors import KfError, first_line
from kfold.nets import ModelInfo, create_model, model_info
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.runfiles import RunFiles
from kfold.scoring import get_metric
from kfold.train_config import TrainConfig


def resolve_device(name: str) -> torch.device:
    """The torch device `--device` names; a device this machine lacks is a user's mistake."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise KfError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise KfError(f"--device {name}: no CUDA GPU is available on this machine; "
                          "use --device auto or cpu")
        if device.index is not None and device.index >= count:
            raise KfError(f"--device {name}: this machine has {count} CUDA GPU(s) "
                          f"(cuda:0..cuda:{count - 1})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise KfError(f"--device {name}: MPS is not available here; use --device auto or cpu")
    return device


def autocast(device: torch.device):
    """bf16 autocast on CUDA; full precision on CPU (bf16 matmuls are slow there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def config_info(cfg: TrainConfig) -> ModelInfo:
    """The model's registry entry as this config feeds it (input channels, normalisation)."""
    return model_info(cfg.model).with_chans(cfg.in_chans)


def build_model(cfg: TrainConfig, device: torch.device, weights: str = "none",
                head: Head = Head()) -> nn.Module:
    """The config's model on `device`, initialised from `weights` (none | imagenet | PATH),
    with `head.width` outputs. Its input facts (`kf_info`: channels, normalisation, CAM
    layer, as the config feeds it) and its output (`kf_head`) are set on it here, once, as
    timm keeps `pretrained_cfg`: whatever feeds, predicts with or explains the model reads
    them from it."""
    info = config_info(cfg)
    try:
        model = create_model(cfg.model, image_size=cfg.image_size,
                             in_chans=cfg.in_chans or info.in_chans, dropout=cfg.dropout,
                             weights=None if weights == "none" else weights,
                             drop_path_rate=cfg.drop_path or None)
    except TypeError as exc:
        if not cfg.drop_path or "drop_path_rate" not in str(exc):
            raise
        raise KfError(f"--drop-path: {cfg.model} has no stochastic depth; use a timm model "
                      "that has it (resnet*, efficientnet*, convnext*, vit*...)") from None
    model = widen(model, head.width).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    model.kf_info, model.kf_head = info, head
    return model


def batches(images, targets, cfg: TrainConfig, info: ModelInfo, device: torch.device, *,
            train: bool, generator: torch.Generator | None = None,
            weights: np.ndarray | None = None) -> DeviceBatches:
    return DeviceBatches(
        images, targets, batch_size=cfg.batch_size if train else cfg.batch_size * 2,
        device=device, mean=info.mean, std=info.std, in_chans=info.in_chans, shuffle=train,
        augment=cfg.augment if train else "none", channels_last=device.type == "cuda",
        generator=generator, weights=weights,
    )


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray | torch.Tensor, cfg: TrainConfig,
            device: torch.device, tta: str | None = None) -> np.ndarray:
    """The task's predictions (probabilities of defect; per class; values) of a model of
    `build_model`, averaged over the TTA views: TTA averages probabilities, not logits."""
    model.eval()
    views, kind = TTA_VIEWS[tta or cfg.tta], model.kf_head.kind
    out = []
    for x, _ in batches(images, None, cfg, model.kf_info, device, train=False):
        with autocast(device):
            probs = [activate(model(apply_view(x, view)).float(), kind) for view in views]
        out.append(torch.stack(probs).mean(0).cpu())
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


def fit_epochs(cfg: TrainConfig, data: FoldData, run_dir: Path, tag: str,
               device: torch.device, reporter: Reporter = Reporter()) -> dict:
    """The epoch loop of one fold (resumed from `<tag>.last.pt`, stopped early on validation
    AUC); write `<tag>.pt` (by the checkpoint rule of kfold.backends.rules, or the last epoch
    when there is no validation) and
    `history_<tag>.csv`; return the fold's result. `train_fold` = this + predictions."""
    torch.manual_seed(cfg.init_seed)
    np.random.seed(cfg.init_seed % 2**32)  # timm's Mixup draws from numpy's generator
    last_path, best_path = run_dir / f"{tag}.last.pt", run_dir / f"{tag}.pt"
    saved = _load_resume_state(last_path, device, tag, reporter) if last_path.exists() else None
    # A resumed fold gets its weights from last.pt: no download, no weights file needed.
    head = data.head
    model = build_model(cfg, device, "none" if saved is not None else cfg.weights, head)
    opt = _optimizer(cfg, model)
    gen = torch.Generator().manual_seed(cfg.init_seed)
    train_batches = batches(data.train_x, data.train_y, cfg, model.kf_info, device, train=True,
                            generator=gen, weights=data.train_w)
    sched = scheduler(cfg, opt, len(train_batches))
    recipe = make_recipe(cfg, model, head)
    pos_weight = None if cfg.pos_weight is None else torch.tensor(cfg.pos_weight, device=device)
    train_loss_fn = loss_fn(head, pos_weight, cfg.regression_loss)
    state = {"epoch": 0, "best_auc": -1.0, "best_epoch": -1, "bad_epochs": 0, "history": [],
             "seconds": 0.0, "collapsed_epochs": 0, "collapsed": None}
    if saved is not None:  # resume an interrupted fold
        state = _restore(saved, device, model, opt, sched, gen, recipe)
        reporter.log(f"{tag}: resuming at epoch {state['epoch'] + 1}")

    validate = data.val_x is not None
    # Moved to the device once per fold, not once per epoch's validation.
    val_x = to_device(data.val_x, device) if validate else None
    with reporter.task(f"{tag}", cfg.epochs) as bar:
        bar.advance(state["epoch"])
        while (state["epoch"] < cfg.epochs and state["bad_epochs"] < cfg.patience
               and not state["collapsed"]):
            started = time.perf_counter()
            frozen = cfg.frozen_at(state["epoch"])
            train_loss = train_epoch(model, train_batches, opt, sched, train_loss_fn, device,
                                     frozen,
                                     recipe)
            kept = recipe.kept(model)
            row = {"epoch": state["epoch"], "train_loss": train_loss,
                   "lr": opt.param_groups[-1]["lr"], "frozen": frozen}
            if validate:
                val_p = predict(kept, val_x, cfg, device)
                row |= validation_row(head, data.val_y, val_p)
                chance = row["auc"] if head.metric == "auc" else np.nan  # the AUC <= 0.5 rule
                _watch_collapse(state, val_p, chance, cfg, tag, reporter, head)
            if _improved(state, row, validate, data.val_y, head):
                _save(best_path, {"model": kept.state_dict(), "epoch": state["epoch"],
                                  "config": cfg.to_dict(), "head": head.__dict__})
            state["history"].append(row)
            state["epoch"] += 1
            state["seconds"] += time.perf_counter() - started
            _save(last_path, {"model": model.state_dict(), "opt": opt.state_dict(),
                              "sched": sched.state_dict(), "gen": gen.get_state(),
                              "torch_rng": torch.get_rng_state(),
                              "cuda_rng": (torch.cuda.get_rng_state_all()
                                           if device.type == "cuda" else None),
                              "np_rng": np.random.get_state(),
                              "ema": None if recipe.ema is None else kept.state_dict(),
                              "state": state})
            bar.advance(1, loss=train_loss, **({head.metric: row["score"]} if validate else {}))

    history = pd.DataFrame(state["history"])
    atomic.write_csv(RunFiles(run_dir).history(tag), history)
    return {"best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
            "val_auc": state["best_auc"], "seconds": round(state["seconds"], 2),
            "collapsed": state["collapsed"]}


def _optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.AdamW:
    """AdamW with the backbone at `backbone_lr` and the head at `lr` (one group when the model
    has no separate head, which a head-only schedule cannot train)."""
    backbone, head = split_parameters(model)
    if (cfg.train_mode == "head" or cfg.unfreeze_after is not None) and not backbone:
        raise KfError(f"{cfg.model} has no separate head to train alone; use --train-mode finetune")
    groups = [{"params": backbone, "lr": cfg.backbone_lr}, {"params": head, "lr": cfg.lr}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr,
                             weight_decay=cfg.weight_decay)


def _restore(saved: dict, device: torch.device, model, opt, sched, gen, recipe: Recipe) -> dict:
    """Load an interrupted fold's `<tag>.last.pt` content into model, optimiser, scheduler,
    loader generator, RNGs and the EMA weights; return the loop's state."""
    model.load_state_dict(saved["model"])
    if recipe.ema is not None:
        recipe.ema.module.load_state_dict(saved["ema"])
    if saved.get("np_rng") is not None:
        np.random.set_state(saved["np_rng"])
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])
    gen.set_state(saved["gen"])
    torch.set_rng_state(saved["torch_rng"])
    if saved.get("cuda_rng") is not None and device.type == "cuda":
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
    return {"collapsed_epochs": 0, "collapsed": None} | saved["state"]


def _watch_collapse(state: dict, val_p: np.ndarray, val_auc: float, cfg: TrainConfig,
                    tag: str, reporter: Reporter, head: Head = Head()) -> None:
    """Count this epoch against the collapse rule (kfold.backends.rules); mark the fold."""
    reason = collapse_reason(collapse_range(head, val_p), val_auc,
                             float(val_p[0]) if len(val_p) and val_p.ndim == 1 else None)
    state["collapsed_epochs"], state["collapsed"] = collapse_step(
        state["collapsed_epochs"], reason, state["epoch"], cfg.collapse_epochs)
    if state["collapsed"]:
        reporter.log(f"{tag}: COLLAPSED ({state['collapsed']}); stopping this fold. Try "
                     "--train-mode head, --unfreeze-after N or a lower --lr")


def _improved(state: dict, row: dict, validate: bool, val_y: np.ndarray | None = None,
              head: Head = Head()) -> bool:
    """Whether this epoch's model is the one to keep (`checkpoint_verdict` for binary AUC,
    else a better contest-metric score in its direction), updating the kept and patience
    counters. The first epoch always keeps a checkpoint, even with an undefined (NaN) score;
    without validation every epoch does (the last one is kept)."""
    if not validate:
        state.update(best_auc=float("nan"), best_epoch=state["epoch"], bad_epochs=0)
        return True
    if head.metric != "auc":
        return _improved_on_metric(state, row["score"], get_metric(head.metric, head.kind))
    top = state.get("top_auc", state["best_auc"])  # a fold resumed from an older kfold's state
    n_pos = int(np.sum(val_y)) if val_y is not None else 0
    verdict = "better" if state["best_epoch"] < 0 else checkpoint_verdict(
        row["auc"], row.get("val_loss", float("nan")), top, state.get("kept_loss", np.inf),
        n_pos, len(val_y) - n_pos if val_y is not None else 0)
    state["bad_epochs"] = 0 if verdict == "better" else state["bad_epochs"] + 1
    if verdict is None:
        return False
    auc = row["auc"] if np.isfinite(row["auc"]) else -1.0  # never blocks a later, defined one
    state.update(best_auc=auc, top_auc=max(top, auc), best_epoch=state["epoch"],
                 kept_loss=row.get("val_loss", np.inf))
    return True


def _improved_on_metric(state: dict, score: float, metric) -> bool:
    """The kept epoch by the contest's metric: strictly better in its direction (`best_auc`
    holds the best score so far, whatever the metric)."""
    if state["best_epoch"] >= 0 and not metric.better(score, state["best_auc"]):
        state["bad_epochs"] += 1
        return False
    state.update(best_auc=score, best_epoch=state["epoch"], bad_epochs=0)
    return True


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(backbone, head) parameters: the head is the model's `head` module, the rest is the
    backbone. A model without a `head` is all head (finetune only)."""
    head_ids = {id(p) for p in model.head.parameters()} if hasattr(model, "head") else None
    if head_ids is None:
        return [], list(model.parameters())
    params = list(model.parameters())
    return ([p for p in params if id(p) not in head_ids],
            [p for p in params if id(p) in head_ids])


def set_phase(model: nn.Module, frozen: bool) -> None:
    """Training mode for one epoch: with `frozen`, only the head learns -- the backbone's
    weights get no gradients and its batch-norm layers keep their running statistics."""
    model.train()
    for name, child in model.named_children():
        if name != "head":
            child.requires_grad_(not frozen)
            if frozen:
                child.eval()


def train_fold(cfg: TrainConfig, data: FoldData, test_x: np.ndarray, run_dir: Path, tag: str,
               reporter: Reporter = Reporter()) -> FoldResult:
    """The backend entry point: train, then predict validation and test images with the kept
    checkpoint."""
    device = resolve_device(cfg.device)
    result = fit_epochs(cfg, data, run_dir, tag, device, reporter)
    model = load_checkpoint(cfg, run_dir / f"{tag}.pt", device)
    val_pred = None if data.val_x is None else predict(model, data.val_x, cfg, device)
    return FoldResult(**result, device=str(device), val_pred=val_pred,
                      test_pred=predict(model, test_x, cfg, device))


def load_checkpoint(cfg: TrainConfig, path: Path, device: torch.device) -> nn.Module:
    """The model of a kept checkpoint, its head as trained (`model.kf_head`: a checkpoint
    written before tasks is binary)."""
    try:
        saved = torch.load(path, map_location=device, weights_only=False)
        head = Head(**saved.get("head", {}))
        model = build_model(cfg, device, head=head)
        model.load_state_dict(saved["model"])
    except KfError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on a damaged file
        tag = path.name.removesuffix(".pt")
        raise KfError(
            f"{path} is damaged ({first_line(exc, 100)}); delete it and {tag}.result.json in that "
            "folder, then run the command that trained it again (`kf train` with the run's "
            "settings, or `kf retrain` for full): only that model is trained again") from None
    return model.eval()


def _load_resume_state(path: Path, device: torch.device, tag: str,
                       reporter: Reporter) -> dict | None:
    """An interrupted fold's resume state, or None when it is damaged (a kill during its
    write on a filesystem without atomic rename, a truncated copy): the fold restarts."""
    try:
        saved = torch.load(path, map_location=device, weights_only=False)
        if not all(k in saved for k in ("model", "opt", "sched", "gen", "torch_rng", "state")):
            raise KeyError("keys missing")
        return saved
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on a damaged file
        reporter.log(f"{tag}: {path.name} is damaged ({first_line(exc, 100)}); restarting {tag} "
                     "from its first epoch")
        path.unlink(missing_ok=True)
        return None




def train_epoch(model, train_batches, opt, sched, loss_fn, device, frozen=False,
                recipe: Recipe | None = None) -> float:
    """One pass over `train_batches` ((x, y) or (x, y, w) batches); returns the mean loss
    (`sched` may be None). With `recipe.accum` = N the gradients of N batches add up (each
    loss divided by the group's size) before one optimiser step: for a model without
    batch-norm, one step on a batch N times larger."""
    recipe = recipe or Recipe()
    set_phase(model, frozen)
    total, count, n = torch.zeros((), device=device), 0, len(train_batches)
    opt.zero_grad(set_to_none=True)
    for i, (x, y, *w) in enumerate(train_batches):
        x, target = recipe.inputs(x, y)
        with autocast(device):
            loss = loss_fn(model(x).float(), target, *w)
        group_start = i - i % recipe.accum
        (loss / min(recipe.accum, n - group_start)).backward()
        if (i + 1) % recipe.accum == 0 or i + 1 == n:
            opt.step()
            opt.zero_grad(set_to_none=True)
            recipe.stepped(model)
            if sched is not None:
                sched.step()
        total += loss.detach() * len(y)
        count += len(y)
    return float(total / max(count, 1))


def _save(path: Path, obj: dict) -> None:
    with atomic.atomic_path(path) as tmp:
        torch.save(obj, tmp)
