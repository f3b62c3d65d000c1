"""TensorFlow and Keras, imported once, quietly, on the TensorFlow backend.

Only `kfold.backends.keras` imports this module, so the PyTorch path never pays for
TensorFlow. `KF_TF_THREADS` caps TensorFlow's CPU threads (tests and shared machines).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("KF_TF_THREADS"):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", os.environ["KF_TF_THREADS"])
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

# Triton (which torch, torchvision and timm import lazily) segfaults when its native module
# loads after TensorFlow's; loaded first, both live together in one process.
try:
    import triton  # noqa: F401
except Exception:  # noqa: BLE001, S110  not installed (CPU-only torch) or broken: nothing to protect
    pass

import keras
import tensorflow as tf

from kfold.errors import KfError

if keras.backend.backend() != "tensorflow":
    raise KfError(
        f"the keras backend of kfold runs Keras on TensorFlow, but KERAS_BACKEND is "
        f"{keras.backend.backend()!r}; unset it or set KERAS_BACKEND=tensorflow"
    )

tf.get_logger().setLevel("ERROR")

# TensorFlow takes all GPU memory at start by default; kf may run PyTorch in the same process.
for _gpu in tf.config.list_physical_devices("GPU"):
    try:
        tf.config.experimental.set_memory_growth(_gpu, True)
    except RuntimeError:  # the GPU was initialised already (another import set it up)
        pass


def device_name() -> str:
    """'gpu' when TensorFlow sees a GPU (it then places work there by itself), else 'cpu'."""
    return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"


def versions() -> dict[str, str]:
    return {"keras": keras.__version__, "tensorflow": tf.__version__}


__all__ = ["device_name", "keras", "tf", "versions"]
