"""One fold's training: BCE on one logit, AdamW, cosine-decaying learning rate, early
stopping on validation AUC, the best checkpoint kept, and the full state saved every epoch
so that an interrupted fold continues where it stopped.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from kfold import atomic
from kfold.metrics import binary_metrics
from kfold.nets import ModelInfo, create_model, model_info
from kfold.progress import Reporter
from kfold.train.config import TrainConfig
from kfold.train.loader import TTA_VIEWS, DeviceBatches


@dataclass
class FoldData:
    """uint8 images (N, H, W) and 0/1 targets; `val_x` None means train on everything."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray | None = None
    val_y: np.ndarray | None = None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast(device: torch.device):
    """bf16 autocast on CUDA; full precision on CPU (bf16 matmuls are slow there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def build_model(cfg: TrainConfig, info: ModelInfo, device: torch.device) -> nn.Module:
    model = create_model(cfg.model, image_size=cfg.image_size, in_chans=info.in_chans,
                         dropout=cfg.dropout)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


def batches(images, targets, cfg: TrainConfig, info: ModelInfo, device: torch.device, *,
            train: bool, generator: torch.Generator | None = None) -> DeviceBatches:
    return DeviceBatches(
        images, targets, batch_size=cfg.batch_size if train else cfg.batch_size * 2,
        device=device, mean=info.mean, std=info.std, in_chans=info.in_chans, shuffle=train,
        augment=cfg.augment if train else "none", channels_last=device.type == "cuda",
        generator=generator,
    )


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray | torch.Tensor, cfg: TrainConfig,
            info: ModelInfo, device: torch.device, tta: str | None = None) -> np.ndarray:
    """Probabilities of defect, averaged over the TTA views."""
    model.eval()
    views = TTA_VIEWS[tta or cfg.tta]
    out = []
    for x, _ in batches(images, None, cfg, info, device, train=False):
        with autocast(device):
            probs = [torch.sigmoid(model(view(x)).float()) for view in views]
        out.append(torch.stack(probs).mean(0).cpu())
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


def fit_fold(cfg: TrainConfig, info: ModelInfo, data: FoldData, run_dir: Path, tag: str,
             device: torch.device, reporter: Reporter = Reporter()) -> dict:
    """Train one model; write `<tag>.pt` (best by validation AUC, or last when there is no
    validation) and `history_<tag>.csv`; return the fold's result."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, info, device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_batches = batches(data.train_x, data.train_y, cfg, info, device, train=True,
                            generator=gen)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * len(train_batches))
    pos_weight = None if cfg.pos_weight is None else torch.tensor(cfg.pos_weight, device=device)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    state = {"epoch": 0, "best_auc": -1.0, "best_epoch": -1, "bad_epochs": 0, "history": [],
             "seconds": 0.0}
    last_path, best_path = run_dir / f"{tag}.last.pt", run_dir / f"{tag}.pt"
    if last_path.exists():  # resume an interrupted fold
        saved = torch.load(last_path, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        gen.set_state(saved["gen"])
        torch.set_rng_state(saved["torch_rng"])
        state = saved["state"]
        reporter.log(f"{tag}: resuming at epoch {state['epoch'] + 1}")

    validate = data.val_x is not None
    with reporter.task(f"{tag}", cfg.epochs) as bar:
        bar.advance(state["epoch"])
        while state["epoch"] < cfg.epochs and state["bad_epochs"] < cfg.patience:
            started = time.perf_counter()
            train_loss = _train_epoch(model, train_batches, opt, sched, loss_fn, device)
            row = {"epoch": state["epoch"], "train_loss": train_loss,
                   "lr": opt.param_groups[0]["lr"]}
            if validate:
                val_p = predict(model, data.val_x, cfg, info, device)
                row |= {"val_loss": _bce(data.val_y, val_p), **binary_metrics(data.val_y, val_p)}
            improved = not validate or row["auc"] > state["best_auc"]
            if improved:
                state["best_auc"] = row["auc"] if validate else float("nan")
                state["best_epoch"] = state["epoch"]
                state["bad_epochs"] = 0
                _save(best_path, {"model": model.state_dict(), "epoch": state["epoch"],
                                  "config": cfg.to_dict()})
            else:
                state["bad_epochs"] += 1
            state["history"].append(row)
            state["epoch"] += 1
            state["seconds"] += time.perf_counter() - started
            _save(last_path, {"model": model.state_dict(), "opt": opt.state_dict(),
                              "sched": sched.state_dict(), "gen": gen.get_state(),
                              "torch_rng": torch.get_rng_state(), "state": state})
            bar.advance(1, loss=train_loss, **({"auc": row["auc"]} if validate else {}))

    history = pd.DataFrame(state["history"])
    atomic.write_csv(run_dir / f"history_{tag}.csv", history)
    return {"best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
            "val_auc": state["best_auc"], "seconds": round(state["seconds"], 2)}


def train_fold(cfg: TrainConfig, data: FoldData, test_x: np.ndarray, run_dir: Path, tag: str,
               reporter: Reporter = Reporter()) -> tuple[dict, np.ndarray | None, np.ndarray]:
    """The backend entry point: train, then predict validation and test images with the kept
    checkpoint. Returns (result, validation predictions or None, test predictions)."""
    info, device = model_info(cfg.model), resolve_device(cfg.device)
    result = fit_fold(cfg, info, data, run_dir, tag, device, reporter)
    model = load_checkpoint(cfg, info, run_dir / f"{tag}.pt", device)
    val_pred = None if data.val_x is None else predict(model, data.val_x, cfg, info, device)
    return result | {"device": str(device)}, val_pred, predict(model, test_x, cfg, info, device)


def load_checkpoint(cfg: TrainConfig, info: ModelInfo, path: Path,
                    device: torch.device) -> nn.Module:
    model = build_model(cfg, info, device)
    model.load_state_dict(torch.load(path, map_location=device, weights_only=False)["model"])
    return model.eval()


def _train_epoch(model, train_batches, opt, sched, loss_fn, device) -> float:
    model.train()
    total, count = torch.zeros((), device=device), 0
    for x, y in train_batches:
        with autocast(device):
            loss = loss_fn(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += loss.detach() * len(y)
        count += len(y)
    return float(total / max(count, 1))


def _bce(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _save(path: Path, obj: dict) -> None:
    with atomic.atomic_path(path) as tmp:
        torch.save(obj, tmp)
