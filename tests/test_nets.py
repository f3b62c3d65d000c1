"""The model registry: every registered model (and a timm name) builds, maps (N, C, H, W) to
(N,) logits through forward_features/forward_head, and names a Grad-CAM layer inside itself."""

import pytest
import torch

from kfold.errors import KfError
from kfold.nets import create_model, list_models, model_info

SIZE = 32
MODELS = list_models() + ["resnet10t"]  # registering a model is enough to get it tested


@pytest.mark.parametrize("name", MODELS)
def test_model_maps_images_to_one_logit_each_and_has_a_target_layer(name):
    info = model_info(name)
    torch.manual_seed(0)
    model = create_model(name, image_size=SIZE, in_chans=info.in_chans, dropout=0.0).eval()
    x = torch.randn(3, info.in_chans, SIZE, SIZE)
    with torch.no_grad():
        out = model(x)
        parts = model.forward_head(model.forward_features(x))
    assert out.shape == (3,)
    assert torch.allclose(out, parts)
    layer = info.target_layer(model, SIZE)
    assert any(layer is m for m in model.modules())
    maps = []
    layer.register_forward_hook(lambda mod, inp, out: maps.append(out))
    with torch.no_grad():
        model(x)
    assert maps[0].shape[-1] >= 4, "Grad-CAM layer too coarse: its heatmap would be flat"
    assert len(info.mean) == len(info.std) == info.in_chans


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "resnet10t"])
def test_timm_models_know_imagenet_statistics_for_one_and_three_channels(name):
    info = model_info(name)
    assert info.in_chans == 1 and info.pretrained and info.timm_name
    assert info.mean == (pytest.approx((0.485 + 0.456 + 0.406) / 3),)
    rgb = info.with_chans(3)
    assert rgb.in_chans == 3 and rgb.mean == (0.485, 0.456, 0.406)
    assert rgb.std == (0.229, 0.224, 0.225)
    model = create_model(name, image_size=SIZE, in_chans=3).eval()
    assert model(torch.randn(2, 3, SIZE, SIZE)).shape == (2,)


def test_vgg16_is_the_convolutions_with_a_new_head():
    model = create_model("vgg16", image_size=SIZE)
    n_params = sum(p.numel() for p in model.parameters())
    assert 14_000_000 < n_params < 15_500_000  # no 4096-wide dense layers
    assert model.head[-1].in_features == 512


def test_create_model_drops_none_arguments():
    model = create_model("simple-cnn", image_size=None, in_chans=None, dropout=None, weights=None)
    assert model(torch.randn(2, 1, 64, 64)).shape == (2,)


def test_list_models_globs_the_registry_and_optionally_timm():
    assert {"simple-cnn", "vgg16", "resnet50"} <= set(list_models())
    assert list_models("vgg*") == ["vgg16"]
    more = list_models("resnet1*", timm_too=True)
    assert "resnet18" in more and more.count("resnet50") == 0


@pytest.mark.parametrize("name, kwargs, match", [
    ("resnet5O", {}, r"unknown model 'resnet5O'; did you mean resnet50"),
    ("vgg61", {}, r"did you mean .*vgg16"),
    ("resnet50", {"image_size": 16}, r"16 px is too small for resnet50.*--image-size 32"),
    ("vgg16", {"image_size": 24}, r"too small for vgg16"),
    ("simple-cnn", {"image_size": 4}, r"too small for simple-cnn"),
    ("simple-cnn", {"weights": "imagenet"}, r"simple-cnn has no ImageNet weights"),
])
def test_bad_models_and_sizes_are_one_clear_error(name, kwargs, match):
    with pytest.raises(KfError, match=match):
        create_model(name, **kwargs)
