"""Decoded cache: built once, reused, rebuilt when an input changes; preprocessing options."""

import os
import time

import numpy as np
import pytest

from kfold.data import cache as cache_mod
from kfold.data.cache import load_decoded
from kfold.data.preprocess import Preprocess
from kfold.data.sources import discover
from kfold.errors import KfError
from kfold.progress import Reporter


def test_second_load_is_a_cache_hit(workspace, monkeypatch):
    train = discover(workspace).train
    first = load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train")
    monkeypatch.setattr(cache_mod, "decode", lambda path: pytest.fail("decoded again"))
    second = load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train")
    assert np.array_equal(first.images, second.images)
    assert first.images.shape == (len(train), 32, 32) and first.images.dtype == np.uint8
    assert (first.orig_hw == 48).all()


def test_changed_file_preprocessing_or_size_builds_a_new_entry(workspace):
    train = discover(workspace).train
    load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train")
    load_decoded(train, Preprocess(crop=4), 32, workspace.cache_dir, "train")
    load_decoded(train, Preprocess(), 24, workspace.cache_dir, "train")
    assert len(list(workspace.cache_dir.glob("train-*.npy"))) == 3
    path = train["path"].iat[0]
    later = time.time() + 5
    os.utime(path, (later, later))
    rebuilt = load_decoded(discover(workspace).train, Preprocess(), 32, workspace.cache_dir, "train")
    assert len(list(workspace.cache_dir.glob("train-*.npy"))) == 4
    assert rebuilt.images.shape[0] == len(train)


def test_crop_then_resize():
    img = np.zeros((40, 40), np.uint8)
    img[:5] = 255  # a bright border strip, cropped away
    img[10:30, 10:30] = 100
    out = Preprocess(crop=5).apply(img, 30)
    assert out.shape == (30, 30)
    assert out.max() == 100 and out[0, 0] == 0


def test_method_one_sets_dark_pixels_to_zero_and_method_two_binarises():
    img = np.array([[10, 50], [60, 200]], np.uint8)
    assert Preprocess(threshold=0.2).apply(img, 2).tolist() == [[0, 0], [60, 200]]
    assert Preprocess(binarize=0.2).apply(img, 2).tolist() == [[0, 0], [255, 255]]


@pytest.mark.parametrize("kwargs, message", [
    ({"crop": -1}, "crop"),
    ({"threshold": 2.0}, "threshold"),
    ({"threshold": 0.2, "binarize": 0.5}, "choose one"),
])
def test_bad_preprocessing_options(kwargs, message):
    with pytest.raises(KfError, match=message):
        Preprocess(**kwargs)


def test_unreadable_image_is_reported_with_its_path(workspace):
    train = discover(workspace).train
    victim = train["path"].iat[3]
    with open(victim, "r+b") as fh:
        fh.truncate(200)
    decoded = load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train")
    assert list(decoded.bad) == [train["id"].iat[3]]
    with pytest.raises(KfError, match="1 unreadable training image"):
        cache_mod.refuse_bad(decoded, train, "training")


def test_cached_images_are_memory_mapped_read_only(workspace):
    train = discover(workspace).train
    load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train")
    again = load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train")
    assert isinstance(again.images, np.memmap) and again.images.filename
    assert not again.images.flags.writeable


def test_entry_without_its_meta_file_is_rebuilt(workspace):
    """The meta file is written last: images alone are a build that never finished."""
    train = discover(workspace).train
    expected = np.array(load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train").images)
    (meta,) = workspace.cache_dir.glob("train-*.meta.npz")
    meta.unlink()
    (images,) = workspace.cache_dir.glob("train-*.npy")
    images.write_bytes(b"half")
    again = load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train")
    assert np.array_equal(expected, again.images)


class _Log(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)


def _truncate(path) -> None:  # a killed write or a bad disk
    path.write_bytes(path.read_bytes()[:100])


def _folder(path) -> None:  # something else in its place
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize("part, damage", [("npy", _truncate), ("meta.npz", _truncate),
                                          ("npy", _folder)], ids=["npy", "meta", "npy-folder"])
def test_a_damaged_entry_is_rebuilt_and_said_so(workspace, part, damage):
    train = discover(workspace).train
    first = np.array(load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train").images)
    damage(next(workspace.cache_dir.glob(f"train-*.{part}")))
    log = _Log()
    again = load_decoded(train, Preprocess(), 32, workspace.cache_dir, "train", log)
    assert np.array_equal(first, again.images)
    assert len(log.lines) == 1 and "damaged" in log.lines[0] and "rebuilding" in log.lines[0]


def test_crop_larger_than_the_images_is_named_not_called_unreadable(workspace):
    train = discover(workspace).train
    with pytest.raises(KfError, match=r"--crop 30 is too large for the image size \(48x48"):
        load_decoded(train, Preprocess(crop=30), 32, workspace.cache_dir, "train")
    assert not list(workspace.cache_dir.glob("train-*"))


def test_a_disk_too_full_for_the_cache_says_how_much_it_needs_before_writing(workspace,
                                                                             monkeypatch):
    """The cache is a memory map, which dies on a full disk instead of raising: so the
    space is checked first, and nothing is left behind."""
    train = discover(workspace).train
    before = sorted(workspace.cache_dir.rglob("*"))
    from kfold import atomic

    for module in (cache_mod, atomic):
        monkeypatch.setattr(module, "free_bytes", lambda folder: 1000)
    with pytest.raises(KfError, match=r"no space left.*needs about .* MB more; 1.0 KB free"):
        load_decoded(train, Preprocess(), 256, workspace.cache_dir, "train")
    assert sorted(workspace.cache_dir.rglob("*")) == before
