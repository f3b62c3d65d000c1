"""The Keras models of the original Nexperia notebooks.

Every model takes grayscale pixel values (N, S, S, 1) as float 0..255 and returns the
probability of "defect" (N, 1). Its own input preprocessing is a layer inside the model
(`ImagePreprocess`), so a saved `.keras` checkpoint predicts from raw pixels and Grad-CAM
sees the same graph as training:

- `simple-cnn`: the original layer table exactly — three blocks of 5x5 'same' conv (16, 32,
  64, ReLU) + batch-norm + 2x2 max-pool, dropout, flatten, dense 128 (ReLU) + batch-norm,
  one sigmoid output; pixels scaled to [0, 1].
- `vgg16`, `resnet50`: `keras.applications` backbones (no top, global average pooling), the
  gray channel repeated to RGB and that application's own `preprocess_input`, then dropout
  and one sigmoid output. `--train-mode head` freezes the backbone.

The output is `Dense(1, name="logit")` followed by a sigmoid `Activation(name="prob")`, the
original's sigmoid dense split in two so that Grad-CAM can take gradients of the logit. For
another task (`kfold.backends.Head`) `with_head` replaces both: one logit per class with a
softmax (multi-class), per label with a sigmoid (multi-label), or one linear value
(regression); `output_kind` reads the task back from a saved model.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kfold.backends import Head
from kfold.backends.keras._tf import keras
from kfold.errors import KfError

# Batch-norm moving averages: 0.9 (PyTorch's 0.1) instead of Keras' 0.99, whose statistics lag
# far behind on small data (a few hundred steps), so validation runs on stale statistics.
BN_MOMENTUM = 0.9
WEIGHTS_CACHE = Path("~/.keras/models").expanduser()


@keras.saving.register_keras_serializable(package="kfold")
class ImagePreprocess(keras.layers.Layer):
    """Grayscale 0..255 -> a model's input. 'unit' divides by 255 (the small CNN);
    'vgg16' / 'resnet50' repeat the channel to RGB and apply that application's
    `preprocess_input` (caffe: BGR order, ImageNet means subtracted)."""

    def __init__(self, mode: str = "unit", **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in ("unit", "vgg16", "resnet50"):
            raise ValueError(f"unknown preprocessing mode {mode!r}")
        self.mode = mode

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        if self.mode == "unit":
            return x / 255.0
        x = keras.ops.repeat(x, 3, axis=-1)
        apps = {"vgg16": keras.applications.vgg16, "resnet50": keras.applications.resnet50}
        return apps[self.mode].preprocess_input(x)

    def compute_output_shape(self, input_shape):
        return input_shape if self.mode == "unit" else (*input_shape[:-1], 3)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


@dataclass(frozen=True)
class KerasModelSpec:
    name: str
    builder: Callable[..., BuiltModel]
    target_layer: str  # Grad-CAM: the last convolutional feature map
    min_size: int
    imagenet_file: str | None = None  # keras.applications' no-top weights file
    imagenet_url: str | None = None


@dataclass
class BuiltModel:
    model: object  # keras.Model
    backbone_layers: tuple[str, ...]  # layers frozen by --train-mode head
    backbone: object | None = None  # the keras.applications sub-model, for weight files


_APPS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def _head(x, dropout: float):
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    return keras.layers.Activation("sigmoid", name="prob", dtype="float32")(logit)


def simple_cnn(image_size: int, dropout: float, weights: str | None) -> BuiltModel:
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = ImagePreprocess("unit", name="preprocess")(inputs)
    features = []
    for i, filters in enumerate((16, 32, 64), start=1):
        x = keras.layers.Conv2D(filters, 5, padding="same", activation="relu",
                                name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
        features += [f"conv{i}", f"bn{i}"]
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(128, activation="relu", name="dense")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="dense_bn")(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    prob = keras.layers.Activation("sigmoid", name="prob", dtype="float32")(logit)
    return BuiltModel(keras.Model(inputs, prob, name="simple_cnn"), tuple(features))


def _application(name: str, app: Callable, image_size: int, dropout: float,
                 weights: str | None) -> BuiltModel:
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = ImagePreprocess(name, name="preprocess")(inputs)
    try:
        base = app(include_top=False, weights=weights, input_tensor=x, pooling="avg")
    except Exception as exc:  # offline download, corrupt cache file
        if weights != "imagenet":
            raise
        spec = KERAS_MODELS[name.replace("_", "-")]
        raise KfError(
            f"could not get the ImageNet weights of {name} ({type(exc).__name__}: {exc}); "
            f"this machine is probably offline: download {spec.imagenet_url} elsewhere and "
            f"put it in {WEIGHTS_CACHE}/, or pass --weights none or --weights PATH"
        ) from None
    outputs = _head(base.output, dropout)
    frozen = tuple(layer.name for layer in base.layers if layer.weights)
    return BuiltModel(keras.Model(inputs, outputs, name=f"kf_{name}"), frozen, base)


def vgg16(image_size: int, dropout: float, weights: str | None) -> BuiltModel:
    return _application("vgg16", keras.applications.VGG16, image_size, dropout, weights)


def resnet50(image_size: int, dropout: float, weights: str | None) -> BuiltModel:
    return _application("resnet50", keras.applications.ResNet50, image_size, dropout, weights)


KERAS_MODELS: dict[str, KerasModelSpec] = {
    "simple-cnn": KerasModelSpec("simple-cnn", simple_cnn, "conv3", 8),
    "vgg16": KerasModelSpec(
        "vgg16", vgg16, "block5_conv3", 32,
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _APPS_URL + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "resnet50": KerasModelSpec(
        "resnet50", resnet50, "conv5_block3_out", 32,
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _APPS_URL + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
}


def model_spec(name: str) -> KerasModelSpec:
    if name not in KERAS_MODELS:
        raise KfError(f"the keras backend has no model {name!r}; "
                      f"choose one of {', '.join(KERAS_MODELS)}")
    return KERAS_MODELS[name]


def check_model_config(model: str, image_size: int, weights: str, train_mode: str) -> None:
    """Everything about the model choice that can fail, checked before any data is decoded."""
    spec = model_spec(model)
    if image_size < spec.min_size:
        raise KfError(f"keras {model} needs images of at least {spec.min_size} px, "
                      f"got --image-size {image_size}")
    if train_mode not in ("head", "finetune"):
        raise KfError(f"--train-mode must be head or finetune, got {train_mode!r}")
    if weights == "imagenet":
        if spec.imagenet_file is None:
            raise KfError(f"keras {model} has no ImageNet weights; pass --weights none "
                          "(or --weights PATH to a file of its weights)")
    elif weights != "none" and not Path(weights).expanduser().is_file():
        raise KfError(f"--weights {weights}: no such file (expected imagenet, none or the "
                      "path of a .keras model or .h5 / .weights.h5 weights file)")


def build_model(model: str, image_size: int, dropout: float, weights: str = "none",
                train_mode: str = "finetune", head: Head = Head()) -> BuiltModel:
    """Build `model` with its starting weights and `head`'s output, the backbone frozen for
    `head` mode."""
    check_model_config(model, image_size, weights, train_mode)
    spec = model_spec(model)
    built = with_head(spec.builder(image_size, dropout,
                                   "imagenet" if weights == "imagenet" else None), head)
    if weights not in ("imagenet", "none"):
        load_weights_file(built, Path(weights).expanduser())
    set_frozen(built, train_mode == "head")
    return built


ACTIVATIONS = {"binary": "sigmoid", "multiclass": "softmax", "multilabel": "sigmoid",
               "regression": "linear"}


def with_head(built: BuiltModel, head: Head) -> BuiltModel:
    """`built` with `head`'s output layers (module docstring); a binary head is the model as
    built, so a binary run's graph is the original's."""
    if head.kind == "binary":
        return built
    model = built.model
    logit = keras.layers.Dense(head.width, name="logit")(model.get_layer("logit").input)
    out = keras.layers.Activation(ACTIVATIONS[head.kind], name="prob", dtype="float32")(logit)
    return BuiltModel(keras.Model(model.inputs, out, name=model.name), built.backbone_layers,
                      built.backbone)


def output_kind(model) -> str:
    """The task a saved model's output answers (`with_head`'s inverse)."""
    activation = model.get_layer("prob").get_config()["activation"]
    if activation == "sigmoid":
        return "multilabel" if model.output_shape[-1] > 1 else "binary"
    return {"softmax": "multiclass", "linear": "regression"}[activation]


def set_frozen(built: BuiltModel, frozen: bool) -> None:
    """Freeze (head mode) or unfreeze the backbone; compile the model afterwards."""
    for name in built.backbone_layers:
        built.model.get_layer(name).trainable = not frozen


def load_weights_file(built: BuiltModel, path: Path) -> None:
    """Start from a file: a `.keras` model (weights copied layer by layer where names and
    shapes agree), or an `.h5` / `.weights.h5` file of the whole model or of the backbone
    alone (e.g. a keras.applications no-top file)."""
    model = built.model
    if path.suffix == ".keras":
        source = keras.saving.load_model(path, compile=False)
        copied = 0
        for layer in model.layers:
            try:
                other = source.get_layer(layer.name)
            except ValueError:
                continue
            mine, theirs = layer.get_weights(), other.get_weights()
            if mine and len(mine) == len(theirs) and all(
                    a.shape == b.shape for a, b in zip(mine, theirs)):
                layer.set_weights(theirs)
                copied += 1
        if not copied:
            raise KfError(f"--weights {path}: no layer of that model matches {model.name}")
        return
    errors = []
    for target in (model, built.backbone):
        if target is None:
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                target.load_weights(path)
            skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
            if not skipped:
                return
            errors.append(f"{target.name}: parts of it are not in the file ({skipped[0]})")
        except Exception as exc:  # noqa: BLE001  wrong topology: try the backbone next
            errors.append(f"{target.name}: {exc}")
    raise KfError(f"--weights {path}: could not load it into {model.name} "
                  f"({'; '.join(errors)[:300]})")
