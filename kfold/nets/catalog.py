"""`kf models`: what `kf train --model` accepts, in the order users pick from.

kf's registry comes first (the models kf is tuned and tested with), then timm's names; each
group is sorted by parameter count, smallest first, since on a small contest the small model
is the usual first try. Counting builds each model on PyTorch's `meta` device: shapes only,
no memory and no weights, a few milliseconds per model.
"""

from __future__ import annotations

from dataclasses import dataclass

from kfold.nets import list_models, model_info


@dataclass(frozen=True)
class Entry:
    name: str
    source: str  # "kfold", "timm <arch>" for a registered timm model, or "timm"
    params: int | None  # None when the model cannot be built without its weights
    in_chans: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pretrained: bool

    @property
    def params_text(self) -> str:
        """1.23M style; "?" when unknown."""
        if self.params is None:
            return "?"
        return f"{self.params / 1e6:.2f}M" if self.params >= 10_000 else f"{self.params:,}"


def param_count(name: str) -> int | None:
    """Parameters of `name` with its default arguments, counted without allocating them."""
    import torch

    info = model_info(name)
    try:
        with torch.device("meta"):
            model = info.builder()
    except Exception:  # noqa: BLE001 - a builder that insists on real weights: no count
        return None
    return sum(p.numel() for p in model.parameters())


def catalog(pattern: str = "*", limit: int = 40) -> tuple[list[Entry], int]:
    """Registry entries then up to `limit` timm names matching `pattern` (a glob), each group
    by parameter count; also how many timm names were left out by `limit`."""
    registered = list_models(pattern)
    timm_names = [n for n in list_models(pattern, timm_too=True) if n not in registered]
    entries = []
    for name in registered + timm_names[:limit]:
        info = model_info(name)
        source = "kfold" if name in registered else "timm"
        if info.timm_name and name in registered:
            source = f"timm {info.timm_name}"
        entries.append(Entry(name, source, param_count(name), info.in_chans,
                             info.mean, info.std, info.pretrained))
    order = {name: i for i, name in enumerate(registered)}

    def key(e: Entry):
        return (e.name not in order, e.params is None, e.params or 0, e.name)

    return sorted(entries, key=key), max(0, len(timm_names) - limit)
