"""The Keras backend: models faithful to the original notebooks, config checks, and each model
training 2 folds x 1 epoch into the shared artifacts."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kfold import artifacts
from kfold.backends import FoldData
from kfold.backends.keras import KerasBackend, keras
from kfold.backends.keras.models import build_model
from kfold.data.synth import synthesize
from kfold.errors import KfError
from kfold.train.run import train_run
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace

SIZE = 32


def keras_cfg(**kw) -> TrainConfig:
    base = {"backend": "keras", "model": "simple-cnn", "n_folds": 2, "image_size": SIZE,
            "epochs": 1, "batch_size": 16, "augment": "flip"}
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("keras-ws")
    ws = Workspace.init(root, image_size=SIZE, n_folds=2)
    synthesize(ws.data_dir, n_train=48, n_test=10, size=64, seed=3)
    return ws


def test_simple_cnn_is_the_original_layer_table():
    model = build_model("simple-cnn", 192, 0.3).model
    params = {layer.name: layer.count_params() for layer in model.layers if layer.weights}
    # the write-up's table at 192 px: 416, 64, 12,832, 128, 51,264, 256, 4,718,720, 512, 129
    assert params == {"conv1": 416, "bn1": 64, "conv2": 12832, "bn2": 128, "conv3": 51264,
                      "bn3": 256, "dense": 4718720, "dense_bn": 512, "logit": 129}
    assert model.get_layer("flatten").output.shape[1:] == (36864,)
    assert model.get_layer("prob").activation.__name__ == "sigmoid"
    assert model.output_shape == (None, 1)


def test_backbones_use_their_preprocess_input():
    built = build_model("vgg16", SIZE, 0.3)
    pre = keras.Model(built.model.input, built.model.get_layer("preprocess").output)
    gray = np.full((1, SIZE, SIZE, 1), 200.0, dtype=np.float32)
    rgb = np.repeat(gray, 3, axis=-1)
    expected = keras.applications.vgg16.preprocess_input(rgb.copy())
    np.testing.assert_allclose(pre.predict(gray, verbose=0), expected, rtol=1e-6)
    assert built.model.count_params() == 14715201  # the write-up's VGG16 + Dense(1)


def test_head_mode_freezes_the_backbone():
    built = build_model("vgg16", SIZE, 0.3, train_mode="head")
    trainable = {w.path.split("/")[0] for w in built.model.trainable_weights}
    assert trainable == {"logit"}


@pytest.mark.parametrize(("change", "match"), [
    ({"model": "efficientnet"}, "no model 'efficientnet'"),
    ({"model": "vgg16", "image_size": 16}, "at least 32 px"),
    ({"weights": "imagenet"}, "simple-cnn has no ImageNet weights"),
    ({"weights": "/nonexistent/w.h5"}, "no such file"),
    ({"train_mode": "partial"}, "train_mode = 'partial' must be head or finetune"),
    ({"backbone_lr_scale": 0.1}, "--backbone-lr-scale is not supported"),
    ({"model": "vgg16", "in_chans": 1}, "takes --in-chans 3"),
])
def test_check_config_rejects(change, match):
    with pytest.raises(KfError, match=match):
        KerasBackend().check_config(keras_cfg(**change))


def test_offline_imagenet_fails_with_the_fix(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] name resolution")  # noqa: TRY002  (as Keras)

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(KfError, match=r"offline.*vgg16_weights.*--weights none"):
        build_model("vgg16", SIZE, 0.3, weights="imagenet")


def test_weights_path_keras_and_backbone_h5(tmp_path):
    source = build_model("simple-cnn", SIZE, 0.3)
    source.model.save(tmp_path / "src.keras")
    loaded = build_model("simple-cnn", SIZE, 0.3, weights=str(tmp_path / "src.keras"))
    np.testing.assert_array_equal(loaded.model.get_layer("conv2").get_weights()[0],
                                  source.model.get_layer("conv2").get_weights()[0])
    # a backbone-only file, like the keras.applications no-top ImageNet file
    vgg = build_model("vgg16", SIZE, 0.3)
    vgg.backbone.save_weights(tmp_path / "backbone.weights.h5")
    again = build_model("vgg16", SIZE, 0.3, weights=str(tmp_path / "backbone.weights.h5"))
    np.testing.assert_array_equal(again.model.get_layer("block1_conv1").get_weights()[0],
                                  vgg.model.get_layer("block1_conv1").get_weights()[0])
    with pytest.raises(KfError, match="could not load"):
        bad = tmp_path / "other.weights.h5"
        build_model("simple-cnn", SIZE, 0.3).model.save_weights(bad)
        build_model("resnet50", SIZE, 0.3, weights=str(bad))


@pytest.mark.parametrize(("model", "mode"), [("simple-cnn", "finetune"), ("vgg16", "head"),
                                             ("resnet50", "finetune")])
def test_each_model_trains_two_folds_into_the_shared_artifacts(ws, model, mode):
    name = f"k-{model}"
    meta = train_run(ws, keras_cfg(model=model, train_mode=mode), name)
    run_dir = ws.run_dir(name)
    assert meta.backend == "keras" and artifacts.read_run(ws, name).backend == "keras"
    assert [r.epochs_run for r in meta.folds] == [1, 1]
    for k in (0, 1):
        assert (run_dir / f"fold{k}.keras").is_file()
        assert not (run_dir / f"fold{k}.backup").exists()
        history = pd.read_csv(run_dir / f"history_fold{k}.csv")
        assert {"epoch", "train_loss", "val_loss", "auc", "lr", "tp", "fp", "tn", "fn",
                "accuracy", "precision", "recall"} <= set(history.columns)
    oof = artifacts.read_oof(ws.oof_path(name))
    assert len(oof) == 48 and oof["id"].is_unique and oof["pred"].between(0, 1).all()
    test = artifacts.read_test_preds(ws.test_path(name))
    assert len(test) == 10 and {"pred_fold0", "pred_fold1", "pred"} <= set(test.columns)
    sub = ws.submission_path(name)
    assert sub.is_file() and len(pd.read_csv(sub)) == 10
    sidecar = json.loads(sub.with_suffix(".json").read_text())
    assert sidecar["lineage"]["runs"] == [name]
    assert np.isfinite(meta.oof_auc)


def test_bad_fold_data_is_a_kferror(tmp_path):
    train_fold = KerasBackend().train_fold

    x = np.zeros((8, SIZE + 1, SIZE + 1), np.uint8)
    with pytest.raises(KfError, match="shaped"):
        train_fold(keras_cfg(), FoldData(x, np.zeros(8)), x, tmp_path, "fold0")
    x = np.zeros((8, SIZE, SIZE), np.uint8)
    with pytest.raises(KfError, match="targets must be 0 or 1"):
        train_fold(keras_cfg(), FoldData(x, np.full(8, 2)), x, tmp_path, "fold0")


def test_a_fold_cpu_share_sets_tensorflow_threads_once_per_process():
    """TensorFlow fixes its thread pools at its first op: a fresh process (a `kf` command, a Ray
    worker) takes the share; asking another one later is refused, not silently ignored."""
    code = ("from kfold.backends.keras import KerasBackend, tf\n"
            "b = KerasBackend()\n"
            "with b.cpu_threads(1):\n"
            "    tf.constant(1.0) + 1\n"
            "print(tf.config.threading.get_intra_op_parallelism_threads())\n"
            "with b.cpu_threads(1):\n"
            "    pass\n"
            "try:\n"
            "    with b.cpu_threads(2):\n"
            "        pass\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "1"
    assert out[1].startswith("KfError TensorFlow in this process already runs with other CPU "
                             "threads than the 2 asked for (--cpus-per-fold)")


@pytest.mark.parametrize("option, value", [("ema", 0.99), ("mixup", 0.2), ("cutmix", 1.0),
                                           ("warmup_epochs", 1), ("drop_path", 0.1)])
def test_recipe_options_keras_lacks_are_refused_one_by_one(option, value):
    with pytest.raises(KfError, match=f"--{option.replace('_', '-')} is not supported by the keras"):
        KerasBackend().check_config(keras_cfg(**{option: value}, epochs=3))


def test_label_smoothing_and_accumulation_are_keras_native():
    from kfold.backends.keras.fold import compile_model, fresh_model

    cfg = keras_cfg(label_smoothing=0.1, grad_accum=2)
    KerasBackend().check_config(cfg)
    model = fresh_model(cfg)
    compile_model(model, cfg, 1e-3)
    assert model.loss.label_smoothing == pytest.approx(0.1)
    assert model.optimizer.gradient_accumulation_steps == 2


@pytest.mark.parametrize("kind, width, activation", [
    ("binary", 1, "sigmoid"), ("multiclass", 4, "softmax"), ("multilabel", 3, "sigmoid"),
    ("regression", 1, "linear")])
def test_a_head_per_task_is_read_back_from_the_saved_model(kind, width, activation, tmp_path):
    from kfold.backends import Head
    from kfold.backends.keras.models import output_kind

    model = build_model("simple-cnn", 32, 0.1, head=Head(kind, width, "auc")).model
    assert model.output_shape == (None, width)
    assert model.get_layer("prob").get_config()["activation"] == activation
    model.save(tmp_path / "m.keras")
    assert output_kind(keras.saving.load_model(tmp_path / "m.keras", compile=False)) == kind


@pytest.mark.parametrize("kind, y, message", [
    ("multiclass", [0, 1, 4], "class indices 0 to 3"),
    ("multilabel", [[0, 1, 0], [1, 2, 0]], "0/1 rows of 3 labels"),
    ("regression", [1.0, np.nan, 2.0], "finite numbers"),
    ("binary", [0, 1, 2], "0 or 1")])
def test_targets_a_head_cannot_read_are_refused(kind, y, message):
    from kfold.backends import Head
    from kfold.backends.keras.fold import check_fold_data

    y = np.asarray(y)
    x = np.zeros((len(y), 32, 32), dtype=np.uint8)
    head = Head(kind, 1 if kind in ("binary", "regression") else (4 if kind == "multiclass"
                                                                    else 3), "auc")
    with pytest.raises(KfError, match=f"training targets must be {message}"):
        check_fold_data(keras_cfg(), x, y, None, None, head)


def test_pos_weight_is_refused_for_a_task_without_defects():
    from kfold.backends import Head
    from kfold.backends.keras.fold import check_fold_data

    x, y = np.zeros((4, 32, 32), dtype=np.uint8), np.array([0, 1, 2, 3])
    with pytest.raises(KfError, match="--pos-weight weighs the defects of a binary task"):
        check_fold_data(keras_cfg(pos_weight=2.0), x, y, None, None, Head("multiclass", 4, "logloss"))
