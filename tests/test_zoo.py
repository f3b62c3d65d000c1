"""Transfer-learning models: weights none / file / imagenet (offline), and VGG16 / ResNet50
k-fold runs end to end on CPU at tiny sizes (random init)."""

import dataclasses

import numpy as np
import pytest
import timm
import torch
from typer.testing import CliRunner

from kfold import artifacts
from kfold.backends import FoldData, get_backend
from kfold.backends.torch import loop
from kfold.backends.torch.loop import train_fold
from kfold.cli import app
from kfold.errors import KfError
from kfold.nets import create_model
from kfold.train.run import train_run
from kfold.train_config import TrainConfig

check_config = get_backend("torch").check_config


@pytest.fixture
def tiny_fold():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 32, 32), dtype=np.uint8)
    y = (np.arange(40) % 4 == 0).astype(float)
    return FoldData(x[:32], y[:32], x[32:], y[32:]), x[:6]


def _timm_file(tmp_path, name="resnet10t", in_chans=3, seed=1):
    torch.manual_seed(seed)
    ref = timm.create_model(name, pretrained=False, in_chans=in_chans)  # with its classifier
    path = tmp_path / f"{name}.pth"
    torch.save(ref.state_dict(), path)
    return path, ref.state_dict()


def test_weights_file_is_loaded_before_the_first_step(tmp_path, tiny_fold, monkeypatch):
    path, ref = _timm_file(tmp_path, in_chans=1)
    seen = {}
    real = loop.train_epoch

    def spy(model, *args, **kwargs):
        if not seen:
            seen.update({k: v.detach().clone() for k, v in model.backbone.state_dict().items()})
        return real(model, *args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", spy)
    cfg = TrainConfig(model="resnet10t", image_size=32, epochs=1, batch_size=16, weights=str(path))
    train_fold(cfg, tiny_fold[0], tiny_fold[1], tmp_path, "f0")
    for key, value in ref.items():
        if key.startswith("fc."):
            continue  # the ImageNet classifier is replaced by the new head
        assert torch.equal(seen[key], value), key
    assert set(seen) == {k for k in ref if not k.startswith("fc.")}


def test_rgb_weights_are_adapted_to_one_gray_channel_like_timm(tmp_path):
    path, ref = _timm_file(tmp_path, in_chans=3)
    model = create_model("resnet10t", image_size=32, in_chans=1, weights=str(path))
    first = model.backbone.state_dict()["conv1.0.weight"]
    assert first.shape[1] == 1
    assert torch.allclose(first, ref["conv1.0.weight"].sum(1, keepdim=True))
    rgb = create_model("resnet10t", image_size=32, in_chans=3, weights=str(path))
    assert torch.equal(rgb.backbone.state_dict()["conv1.0.weight"], ref["conv1.0.weight"])


def test_a_kfold_checkpoint_works_as_a_weights_file(tmp_path):
    torch.manual_seed(0)
    model = create_model("resnet10t", image_size=32)
    path = tmp_path / "fold0.pt"
    torch.save({"model": model.state_dict(), "epoch": 3}, path)
    again = create_model("resnet10t", image_size=32, weights=str(path))
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(again.backbone.state_dict()[key], value)


def test_simple_cnn_weights_file_round_trip(tmp_path):
    model = create_model("simple-cnn", image_size=32)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    again = create_model("simple-cnn", image_size=32, weights=str(tmp_path / "w.pt"))
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())


def test_a_mismatched_weights_file_names_the_keys_that_differ(tmp_path):
    path, _ = _timm_file(tmp_path, name="resnet18")
    cfg = TrainConfig(model="resnet10t", image_size=32, weights=str(path))
    with pytest.raises(KfError, match=r"does not match resnet10t: .*missing from the file "
                                      r"\(first: conv1\.0\.weight.*unexpected key"):
        check_config(cfg)
    torch.save({"layer9.weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(KfError, match=r"unexpected key\(s\) \(first: layer9\.weight\)"):
        create_model("resnet10t", image_size=32, weights=str(tmp_path / "other.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(KfError, match="is not a PyTorch checkpoint"):
        create_model("resnet10t", image_size=32, weights=str(tmp_path / "junk.pt"))
    with pytest.raises(KfError, match="no such file"):
        check_config(TrainConfig(model="resnet10t", image_size=32, weights="nope.pth"))


def test_imagenet_offline_is_one_line_naming_the_fixes(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(KfError) as err:
        check_config(TrainConfig(model="resnet10t", image_size=32, weights="imagenet"))
    message = str(err.value)
    assert "\n" not in message
    assert "timm/resnet10t" in message and "--weights PATH" in message and "cache" in message


@pytest.mark.parametrize("model", ["vgg16", "resnet50"])
def test_vgg16_and_resnet50_k_fold_runs_on_cpu(workspace, model):
    cfg = TrainConfig(model=model, n_folds=2, image_size=32, epochs=1, batch_size=16, seed=0,
                      train_mode="head" if model == "vgg16" else "finetune", tta="flip")
    meta = train_run(workspace, cfg, model)
    oof = artifacts.read_oof(workspace.oof_path(model))
    assert len(oof) == 60 and 0 <= meta.oof_auc <= 1
    assert meta.config.model == model and meta.config.tta == "flip"
    assert all(r.collapsed is None for r in meta.folds)
    state = torch.load(workspace.run_dir(model) / "fold0.pt", weights_only=False)["model"]
    assert any(k.startswith("backbone.") for k in state) and "head.1.weight" in state


def test_cli_bad_model_and_size_exit_cleanly_and_create_nothing(workspace):
    runner = CliRunner()
    res = runner.invoke(app, ["train", "-w", str(workspace.root), "--model", "resnet5O"])
    assert res.exit_code == 2 and "did you mean resnet50" in res.output
    res = runner.invoke(app, ["train", "-w", str(workspace.root), "--model", "resnet50",
                              "--image-size", "16"])
    assert res.exit_code == 2 and "too small for resnet50" in res.output
    assert not workspace.models_dir.exists() or not any(workspace.models_dir.iterdir())
    res = runner.invoke(app, ["models", "vgg*"])
    assert res.exit_code == 0 and "vgg16" in res.output and "vgg19" in res.output


def test_train_mode_validation():
    with pytest.raises(KfError, match="train_mode = 'top' must be head or finetune"):
        TrainConfig(train_mode="top")
    with pytest.raises(KfError, match="unfreeze_after = -1 must be a whole number from 0"):
        TrainConfig(unfreeze_after=-1)
    assert dataclasses.replace(TrainConfig(), weights="x.pth").backbone_lr == pytest.approx(1e-3)
    assert TrainConfig(backbone_lr_scale=0.1).backbone_lr == pytest.approx(1e-4)


def test_a_run_recorded_with_the_old_auto_scale_keeps_what_it_trained_with():
    old = {**TrainConfig(weights="imagenet").to_dict(), "backbone_lr_scale": None}
    assert TrainConfig.from_dict(old).backbone_lr_scale == 0.1
    old_random = {**TrainConfig().to_dict(), "backbone_lr_scale": None}
    assert TrainConfig.from_dict(old_random).backbone_lr_scale == 1.0


def test_bench_models_rows_are_ratio_friendly():
    from kfold.bench.models import bench_models

    rows = bench_models(names=("simple-cnn", "resnet10t"), size=32, batch=8, steps=1)
    assert [r["name"] for r in rows] == ["simple-cnn", "resnet10t"]
    for r in rows:
        assert r["precision"] == "fp32" and r["device"] == "cpu"
        for key in ("train_pipeline_ips", "train_memory_ips", "infer_ips", "infer_d4_ips",
                    "peak_mem_mb"):
            assert r[key] > 0, key
        assert r["pipeline_ratio"] == pytest.approx(
            r["train_pipeline_ips"] / r["train_memory_ips"], rel=0.1)


def test_cli_train_with_transfer_options_records_them(workspace, tmp_path):
    path, _ = _timm_file(tmp_path, in_chans=1)
    res = CliRunner().invoke(app, [
        "train", "-w", str(workspace.root), "--model", "resnet10t", "--image-size", "32",
        "--epochs", "1", "--batch-size", "16", "--weights", str(path), "--train-mode", "head",
        "--tta", "flip", "--in-chans", "1", "--name", "t"])
    assert res.exit_code == 0, res.output
    config = artifacts.read_run(workspace, "t").config
    assert config.weights == str(path) and config.train_mode == "head"
    assert config.tta == "flip" and config.in_chans == 1


def _hf_cache_with(tmp_path, timm_name: str, state: dict) -> tuple:
    """A Hugging Face hub cache in the layout `hf_hub_download` writes: the file as a blob
    named by its SHA-256, a snapshot folder per commit linking to it, refs/main naming it."""
    import hashlib

    from safetensors.torch import save_file

    repo_id = timm.models.get_pretrained_cfg(timm_name).hf_hub_id
    repo = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    tmp = repo / "blobs" / "incoming"
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    blob = repo / "blobs" / hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.rename(blob)
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").symlink_to(f"../../blobs/{blob.name}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return tmp_path / "hub", repo_id


def _offline_hub(monkeypatch, hub_cache) -> None:
    """HF_HUB_OFFLINE=1 and HF_HUB_CACHE as huggingface_hub reads them (at import)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))


def test_imagenet_for_any_timm_model_reads_the_hub_cache_offline(tmp_path, monkeypatch):
    _, ref = _timm_file(tmp_path, name="resnet10t", in_chans=3, seed=7)
    hub, repo_id = _hf_cache_with(tmp_path, "resnet10t", ref)
    _offline_hub(monkeypatch, hub)
    model = create_model("resnet10t", image_size=32, in_chans=3, weights="imagenet")
    loaded = model.backbone.state_dict()
    assert repo_id == "timm/resnet10t.c3_in1k"
    for key, value in ref.items():
        if not key.startswith("fc."):
            assert torch.equal(loaded[key], value), key
    gray = create_model("resnet10t", image_size=32, weights="imagenet")  # the default: 1 channel
    assert torch.allclose(gray.backbone.state_dict()["conv1.0.weight"],
                          ref["conv1.0.weight"].sum(1, keepdim=True))
    check_config(TrainConfig(model="resnet10t", image_size=32, weights="imagenet"))
    with pytest.raises(KfError, match=r"cannot get ImageNet weights for resnet18 "
                                      r"\(timm/resnet18\.a1_in1k\)"):
        check_config(TrainConfig(model="resnet18", image_size=32, weights="imagenet"))
