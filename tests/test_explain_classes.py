"""kf explain on a multi-class run: each image's Grad-CAM explains its predicted class by
default, or the class --class names; an unknown class is one error listing the classes, and
--class on a binary run is refused."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.cli import app
from kfold.errors import KfError
from kfold.explain.run import explain_run
from kfold.explain.target import check_class
from kfold.workspace import Workspace
from tests.record_helpers import run_record

runner = CliRunner()
RUN = "simple-cnn-32px"


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory):
    ws = Workspace.init(tmp_path_factory.mktemp("explain-classes"))
    for args in (["data", "synth", "--task", "multiclass", "--n-train", "60", "--n-test", "6",
                  "--size", "32"],
                 ["train", "--model", "simple-cnn", "--image-size", "32", "--epochs", "1",
                  "--folds", "2", "--batch-size", "16"]):
        result = runner.invoke(app, [*args, "-w", str(ws.root)])
        assert result.exit_code == 0, result.output
    return ws


def _spy(seen: dict):
    def heatmaps(run_dir, tag, images, cfg, classes=None):
        seen[tag] = seen.get(tag, []) + list(classes)
        return np.full(images.shape, 0.5, np.float32)
    return heatmaps


def test_each_image_is_explained_by_its_predicted_class_by_default(multiclass):
    meta = artifacts.read_run(multiclass, RUN)
    oof = artifacts.read_oof(multiclass.oof_path(RUN), "multiclass").set_index("id")
    seen: dict = {}
    report = explain_run(multiclass, RUN, n=6, heatmaps=_spy(seen))
    shown = report.shown.set_index("id")
    predicted = oof.loc[shown.index, artifacts.pred_columns("multiclass", meta.classes)] \
        .to_numpy().argmax(axis=1)
    assert list(shown["explained"]) == [meta.classes[i] for i in predicted]
    assert sorted(c for cs in seen.values() for c in cs) == sorted(predicted)
    assert report.metrics["explained_class"] == "predicted"


def test_class_names_the_class_every_map_explains(multiclass):
    meta = artifacts.read_run(multiclass, RUN)
    seen: dict = {}
    report = explain_run(multiclass, RUN, n=4, heatmaps=_spy(seen), class_name="scratch")
    assert set(c for cs in seen.values() for c in cs) == {meta.classes.index("scratch")}
    assert set(report.shown["explained"]) == {"scratch"}


def test_the_torch_gradcam_of_a_named_class_end_to_end(multiclass):
    result = runner.invoke(app, ["explain", "--run", RUN, "--n", "4", "--class", "scratch",
                                 "-w", str(multiclass.root)])
    assert result.exit_code == 0, result.output
    explain = artifacts.read_run(multiclass, RUN).explain
    assert explain["explained_class"] == "scratch" and explain["images_explained"] == 4
    assert (multiclass.root / explain["grid"]).exists()


def test_an_unknown_class_is_one_line_listing_the_classes(multiclass):
    before = sorted(p for p in multiclass.root.rglob("*") if p.is_file())
    result = runner.invoke(app, ["explain", "--run", RUN, "--class", "dent",
                                 "-w", str(multiclass.root)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --class 'dent' is not a class") and "scratch" in line
    assert sorted(p for p in multiclass.root.rglob("*") if p.is_file()) == before


def test_class_on_a_binary_run_is_refused():
    with pytest.raises(KfError, match="--class needs a multi-class run"):
        check_class(run_record("b"), "scratch")
    assert check_class(run_record("b"), None) is None


def test_keras_gradcam_targets_the_class_asked_for(tmp_path):
    from kfold.backends import Head
    from kfold.backends.keras import cam
    from kfold.backends.keras.models import build_model
    from kfold.train_config import TrainConfig

    model = build_model("simple-cnn", 32, 0.1, head=Head("multiclass", 4, "logloss")).model
    model.save(tmp_path / "m.keras")
    cfg = TrainConfig(backend="keras", model="simple-cnn", image_size=32)
    images = np.random.default_rng(0).integers(0, 255, (3, 32, 32), dtype=np.uint8)
    maps = {c: cam.heatmaps(tmp_path / "m.keras", images, cfg, classes=np.full(3, c))
            for c in range(4)}
    for heat in maps.values():
        assert heat.shape == (3, 32, 32) and heat.min() >= 0 and heat.max() <= 1
    assert any(not np.allclose(maps[0], maps[c]) for c in (1, 2, 3))  # another logit's map
    mixed = cam.heatmaps(tmp_path / "m.keras", images, cfg, classes=np.array([0, 1, 2]))
    np.testing.assert_allclose(mixed, np.stack([maps[c][c] for c in range(3)]), atol=1e-5)
