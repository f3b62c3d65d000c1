"""The run record (kfold.record): typed, versioned, and every version written so far loads."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from kfold import artifacts
from kfold.errors import KfError
from kfold.record import SCHEMA_VERSION, FoldResult, RetrainRecord, RunRecord
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace

V0 = Path(__file__).parent / "fixtures" / "run_v0.json"  # written by kfold before the record


@pytest.fixture
def ws(tmp_path) -> Workspace:
    ws = Workspace.init(tmp_path)
    ws.run_dir("r").mkdir(parents=True)
    shutil.copy(V0, ws.run_json("r"))
    return ws


def test_a_run_json_of_schema_0_loads_typed_and_is_written_back_as_the_current_version(ws):
    record = artifacts.read_run(ws, "r")
    assert record.schema_version == SCHEMA_VERSION
    assert isinstance(record.folds[0], FoldResult) and record.folds[0].fold == 0
    assert record.folds[1].folds_fingerprint == record.folds_fingerprint
    assert isinstance(record.retrain, RetrainRecord) and record.retrain.checkpoint == "full.pt"
    assert record.explain["method"] == "gradcam" and record.backend == "torch"
    assert record.fold_aucs == [f["auc"] for f in json.loads(V0.read_text())["folds"]]
    artifacts.write_run(ws, record)
    written = json.loads(ws.run_json("r").read_text())
    assert written["schema_version"] == SCHEMA_VERSION
    old = json.loads(V0.read_text())
    assert old["config"]["backbone_lr_scale"] is None  # written before it had a default
    assert isinstance(record.config, TrainConfig) and record.config.backbone_lr_scale == 1.0
    old["config"] = record.config.to_dict()  # parsed once, with the value the run trained with
    assert _within(old, written)  # nothing else lost or changed; later fields only added
    assert artifacts.read_run(ws, "r") == record


def _within(old, new) -> bool:
    """Every key of `old`, at every depth, is in `new` with the same value."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and _within(v, new[k])
                                             for k, v in old.items())
    if isinstance(old, list):
        return isinstance(new, list) and len(old) == len(new) and all(map(_within, old, new))
    return old == new


def test_keys_the_record_does_not_know_survive_a_read_modify_write(ws):
    raw = json.loads(V0.read_text())
    raw["from_the_future"] = {"x": 1}
    raw["folds"][0]["framework"] = "keras 3 / tensorflow 2"
    ws.run_json("r").write_text(json.dumps(raw))
    artifacts.update_run(ws, "r", explain=None)
    again = json.loads(ws.run_json("r").read_text())
    assert again["from_the_future"] == {"x": 1} and again["explain"] is None
    assert again["folds"][0]["framework"] == "keras 3 / tensorflow 2"


def test_a_broken_run_json_is_one_clear_error(ws):
    ws.run_json("r").write_text('{"name": "r"}')
    with pytest.raises(KfError, match="not a run record"):
        artifacts.read_run(ws, "r")
    ws.run_json("r").write_text("{not json")
    with pytest.raises(KfError, match="is damaged .not valid JSON"):
        artifacts.read_run(ws, "r")


def test_the_record_round_trips_through_a_dict():
    record = RunRecord.from_dict(json.loads(V0.read_text()))
    assert RunRecord.from_dict(record.to_dict()) == record


def test_a_config_that_is_not_an_object_or_out_of_range_is_a_damaged_record(ws):
    raw = json.loads(V0.read_text())
    for config in ([], {"image_size": 3000}):
        ws.run_json("r").write_text(json.dumps({**raw, "config": config}))
        with pytest.raises(KfError, match="run.json is damaged .not a run record: "):
            artifacts.read_run(ws, "r")


def test_a_record_before_tasks_is_a_binary_run_scored_by_auc_and_a_task_round_trips(ws):
    record = artifacts.read_run(ws, "r")
    assert (record.task, record.classes, record.metric) == ("binary", [], "auc")
    raw = record.to_dict() | {"task": "multiclass", "classes": ["a", "b", "c"],
                              "metric": "logloss"}
    again = RunRecord.from_dict(json.loads(json.dumps(raw)))
    assert (again.task, again.classes, again.metric) == ("multiclass", ["a", "b", "c"], "logloss")


def test_a_fold_result_carries_its_predictions_but_writes_only_the_record():
    raw = json.loads(V0.read_text())["folds"][0] | {"where": {"executor": "ray"}}
    result = FoldResult.from_dict(raw)
    result.val_pred, result.test_pred = np.array([0.2, 0.9]), np.array([0.5])
    shipped = pickle.loads(pickle.dumps(result))  # as a Ray task returns it to the driver
    assert shipped.test_pred.tolist() == [0.5] and shipped.where == {"executor": "ray"}
    written = shipped.to_dict()
    assert "val_pred" not in written and "test_pred" not in written
    assert _within(raw, written)  # every key kept, with its value
    assert FoldResult.from_dict(json.loads(json.dumps(written))) == result  # predictions aside


def test_a_fold_of_a_run_record_is_numbered_and_scored(ws):
    raw = json.loads(V0.read_text())
    for key in ("fold", "auc"):
        fold = {k: v for k, v in raw["folds"][0].items() if k != key}
        ws.run_json("r").write_text(json.dumps({**raw, "folds": [fold, *raw["folds"][1:]]}))
        with pytest.raises(KfError, match=f"not a run record: {key} = None is not"):
            artifacts.read_run(ws, "r")
