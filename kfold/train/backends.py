"""Training backends. A backend is a module with two functions:

- `check_config(cfg)`: raise KfError for what it cannot train (unknown model, ...) before
  any data is decoded;
- `train_fold(cfg, data: FoldData, test_x, run_dir, tag, reporter)` -> (result dict,
  validation predictions or None, test predictions), writing `<tag>.<ext>` (the kept
  checkpoint) and `history_<tag>.csv` in `run_dir`.

The k-fold orchestration, resume and every artifact are shared (kfold.train.run).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from kfold.errors import KfError

BACKENDS = {
    "torch": "kfold.train.torch_backend",
    "keras": "kfold.keras_backend",
}


def get_backend(name: str) -> ModuleType:
    if name not in BACKENDS:
        raise KfError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    try:
        return importlib.import_module(BACKENDS[name])
    except ModuleNotFoundError as exc:
        if name == "keras" and exc.name and exc.name.split(".")[0] in ("tensorflow", "keras"):
            raise KfError(
                "the keras backend needs TensorFlow and Keras 3: pip install 'kfold[keras]'"
            ) from None
        raise
