"""Initial weights: `none` (random init), `imagenet` (timm / Hugging Face download, or the
warm local cache) or a local file.

A local file is loaded the way timm's pretrained-config overlay (`pretrained_cfg_overlay=
dict(file=PATH)`) loads one: timm's reader (.safetensors, .pth, .bin, checkpoints holding a
`state_dict`), the architecture's checkpoint filter when the raw names do not fit, the first
conv adapted to the input channels (`adapt_input_conv`), the ImageNet classifier dropped --
but strictly: a file that does not match the architecture is refused with the keys that differ,
never half-loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from kfold.errors import KfError

WEIGHTS_HELP = "none (random init), imagenet (download or warm cache) or a local file"


def is_file_weights(weights: str) -> bool:
    return weights not in ("none", "imagenet")


def check_weights_arg(weights: str) -> None:
    if is_file_weights(weights) and not Path(weights).is_file():
        what = "a folder, not a file" if Path(weights).is_dir() else "no such file"
        raise KfError(f"--weights {weights!r}: {what}; use {WEIGHTS_HELP}")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file: a plain state dict, a timm/kfold checkpoint ('state_dict',
    'model'), or .safetensors. A kfold checkpoint's `backbone.` prefix is removed."""
    path = Path(path)
    if not path.is_file():
        raise KfError(f"weights file {path} does not exist; use --weights {WEIGHTS_HELP}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            raw = load_file(str(path))
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 -- any reader failure is a bad file for the user
        # torch.load's own errors on a text file ("KeyError: 101") say nothing to a user
        raise KfError(f"weights file {path} is not a PyTorch checkpoint (.pt, .pth) or a "
                      f".safetensors file that can be read; use --weights {WEIGHTS_HELP}"
                      ) from None
    for key in ("state_dict_ema", "state_dict", "model"):
        if isinstance(raw, dict) and isinstance(raw.get(key), dict):
            raw = raw[key]
            break
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise KfError(f"weights file {path} holds no state dict of tensors")
    raw = {k.removeprefix("module."): v for k, v in raw.items()}
    if any(k.startswith("backbone.") for k in raw):  # a kfold checkpoint: its backbone only
        raw = {k.removeprefix("backbone."): v for k, v in raw.items() if k.startswith("backbone.")}
    return raw


def key_diff(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, list]:
    """Keys the model has that the file lacks, keys the file has that the model lacks, and
    keys whose shapes differ (key, file shape, model shape). BatchNorm's
    `num_batches_tracked` counters are not weights and are never reported missing."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    shapes = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in state
              if k in own and state[k].shape != own[k].shape]
    return {"missing": missing, "unexpected": unexpected, "shapes": shapes}


def describe_diff(diff: dict[str, list]) -> str:
    parts = []
    if diff["missing"]:
        parts.append(f"{len(diff['missing'])} key(s) missing from the file "
                     f"(first: {', '.join(diff['missing'][:3])})")
    if diff["unexpected"]:
        parts.append(f"{len(diff['unexpected'])} unexpected key(s) "
                     f"(first: {', '.join(diff['unexpected'][:3])})")
    if diff["shapes"]:
        k, a, b = diff["shapes"][0]
        parts.append(f"{len(diff['shapes'])} key(s) with other shapes "
                     f"(first: {k} is {list(a)} in the file, {list(b)} in the model)")
    return "; ".join(parts)


def load_file_into(model: nn.Module, path: str | Path, *, name: str, in_chans: int,
                   first_conv: str | None = None, drop_prefixes: tuple[str, ...] = (),
                   filter_fn: Callable | None = None) -> dict[str, torch.Tensor]:
    """Load the weights file at `path` into `model` strictly; return what was loaded."""
    raw = read_state_dict(path)
    candidates = [raw]
    if filter_fn is not None:
        try:
            candidates.append(dict(filter_fn(dict(raw), model)))
        except Exception:  # noqa: BLE001, S110 -- a filter that cannot read this file
            pass
    best, best_diff, best_count = None, None, None
    for state in candidates:
        state = _prepare(state, in_chans, first_conv, drop_prefixes)
        diff = key_diff(model, state)
        count = sum(len(v) for v in diff.values())
        if best_count is None or count < best_count:
            best, best_diff, best_count = state, diff, count
    if best_count:
        raise KfError(f"weights file {path} does not match {name}: {describe_diff(best_diff)}")
    own = model.state_dict()
    best = {k: v.to(own[k].dtype) for k, v in best.items()}
    model.load_state_dict(best, strict=False)  # strict in effect: the diff above is empty
    return best


def _prepare(state: dict, in_chans: int, first_conv: str | None,
             drop_prefixes: tuple[str, ...]) -> dict:
    state = {k: v for k, v in state.items() if not k.startswith(drop_prefixes)}
    key = f"{first_conv}.weight" if first_conv else None
    if key and key in state and state[key].ndim == 4 and state[key].shape[1] != in_chans:
        from timm.models import adapt_input_conv

        state[key] = adapt_input_conv(in_chans, state[key])
    return state


def download_imagenet(timm_name: str, **kwargs) -> nn.Module:
    """timm.create_model(..., pretrained=True); offline, one clear line naming the fixes."""
    import timm

    try:
        return timm.create_model(timm_name, pretrained=True, **kwargs)
    except KfError:
        raise
    except Exception as exc:
        if not isinstance(exc, (OSError, RuntimeError, ValueError)) and \
                "huggingface" not in type(exc).__module__:
            raise
        cfg = timm.models.get_pretrained_cfg(timm_name, allow_unregistered=True)
        where = getattr(cfg, "hf_hub_id", None) or getattr(cfg, "url", None) or timm_name
        raise KfError(
            f"cannot get ImageNet weights for {timm_name} ({where}): "
            f"{type(exc).__name__}; offline, pass --weights PATH to a local weights file "
            f"(e.g. that repo's model.safetensors), or warm the cache on a connected machine "
            f"with `python -c \"import timm; timm.create_model('{timm_name}', pretrained=True)\"` "
            "and copy ~/.cache/huggingface (HF_HOME) here"
        ) from None


def filter_fn_of(model: nn.Module) -> Callable | None:
    """The architecture's checkpoint filter (timm names it checkpoint_filter_fn or _filter_fn)."""
    module = sys.modules.get(type(model).__module__)
    return getattr(module, "checkpoint_filter_fn", None) or getattr(module, "_filter_fn", None)
