"""The search space of `kf tune`, a TOML file in kf train's option names as grid files write
them (dashes or underscores):

    [defaults]              # fixed for every trial
    model = "simple-cnn"
    image-size = 64

    [space]                 # searched
    lr = { low = 1e-4, high = 1e-2, log = true }
    dropout = { low = 0.0, high = 0.5 }
    model = ["efficientnet-lite0", "resnet18"]
    augment = ["flip", "d4"]

A range searches a number option (whole numbers for whole-number options); a list is a
choice. Every value a trial could get is checked as kf train checks it (the option's type,
its range, the backend's check of the config) before anything trains: the ends of a range
and every choice, each with the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kfold.backends import get_backend
from kfold.errors import KfError
from kfold.grid import file_options, read_toml, setting_of
from kfold.settings import Setting
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace

# Every trial is a run on the study's fold split, named by the study: these are not searched.
FIXED = {"name": "trials are named <study>-t<k>", "n_folds": "the trials share the study's "
         "fold split", "seed": "the trials share the study's fold split (search model-seed)"}
RANGE_KEYS = {"low", "high", "log"}


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool
    whole: bool  # an int option: whole numbers only


@dataclass(frozen=True)
class Space:
    defaults: dict
    params: dict[str, Range | tuple]

    def suggest(self, trial) -> dict:
        """The trial's values, drawn by its sampler (or fixed, when the trial was queued)."""
        out = {}
        for name, p in self.params.items():
            if isinstance(p, tuple):
                out[name] = trial.suggest_categorical(name, list(p))
            elif p.whole:
                out[name] = trial.suggest_int(name, int(p.low), int(p.high), log=p.log)
            else:
                out[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        return out

    def config(self, ws: Workspace, params: dict) -> TrainConfig:
        return TrainConfig.for_workspace(ws, **{**self.defaults, **params})

    def to_dict(self) -> dict:
        """What the study keeps, to refuse continuing it with another space."""
        return {"defaults": self.defaults,
                "space": {k: list(p) if isinstance(p, tuple) else
                          {"low": p.low, "high": p.high, "log": p.log}
                          for k, p in self.params.items()}}


def read_space(path: Path, ws: Workspace) -> Space:
    """The space file, every value it allows checked; a KfError names the first bad one."""
    path = Path(path)
    data = read_toml(path, "space file", "kf tune", {"defaults": "[defaults]", "space": "[space]"})
    defaults, searched = data.get("defaults", {}), data.get("space", {})
    if not isinstance(defaults, dict) or not isinstance(searched, dict) or not searched:
        raise KfError(f"{path.name}: nothing to search; add a [space] table of options "
                      "(see kf tune --help)")
    defaults = file_options(defaults, f"{path.name} [defaults]")
    if "name" in defaults:
        raise KfError(f"{path.name} [defaults]: name: {FIXED['name']}")
    _check(ws, defaults, f"{path.name} [defaults]")
    params = {}
    for key, value in searched.items():
        label = f"{path.name} [space]"
        name = "name" if key == "name" else setting_of(key, label).name
        if name in FIXED:
            raise KfError(f"{label}: {key} cannot be searched: {FIXED[name]}")
        setting = setting_of(key, label)
        if setting.name in defaults:
            raise KfError(f"{label}: {key} is also fixed in [defaults]; keep it in one of them")
        params[setting.name] = _param(ws, defaults, setting, key, value, label)
    return Space(defaults, params)


def _param(ws: Workspace, defaults: dict, setting: Setting, key: str, value,
           label: str) -> Range | tuple:
    if isinstance(value, list):
        return _choices(ws, defaults, setting, key, value, label)
    if isinstance(value, dict):
        return _range(ws, defaults, setting, key, value, label)
    raise KfError(f"{label}: {key} = {value!r}: give a list of choices or a range "
                  "{ low = ..., high = ... } (a fixed value goes in [defaults])")


def _choices(ws: Workspace, defaults: dict, setting: Setting, key: str, values: list,
             label: str) -> tuple:
    if not values:
        raise KfError(f"{label}: {key} = []: an empty list of choices")
    if len(set(map(repr, values))) < len(values):
        raise KfError(f"{label}: {key} = {values}: a choice is listed twice")
    for value in values:
        _check_value(ws, defaults, setting, value, f"{label}: {key} = {value!r}")
    return tuple(values)


def _range(ws: Workspace, defaults: dict, setting: Setting, key: str, spec: dict,
           label: str) -> Range:
    shown = f"{label}: {key} = {spec}"
    if setting.kind not in (int, float):
        raise KfError(f"{shown}: a range needs a number option; give {key} a list of choices")
    extra = sorted(set(spec) - RANGE_KEYS)
    if extra or not {"low", "high"} <= set(spec):
        raise KfError(f"{shown}: a range is {{ low = ..., high = ..., log = true|false }}")
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    if not isinstance(log, bool):
        raise KfError(f"{shown}: log must be true or false")
    for end in (low, high):
        _check_value(ws, defaults, setting, end, f"{label}: {key} = {end!r}")
    if not low < high:
        raise KfError(f"{shown}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise KfError(f"{shown}: a log range must stay above 0, got low {low}")
    return Range(low, high, log, whole=setting.kind is int)


def _check_value(ws: Workspace, defaults: dict, setting: Setting, value, shown: str) -> None:
    """A value as a grid file's key would be checked, then the config it makes."""
    setting.check(value, shown)
    _check(ws, {**defaults, setting.name: value}, shown)


def _check(ws: Workspace, options: dict, label: str) -> None:
    """The config kf train would build from these options, and its backend's check."""
    try:
        cfg = TrainConfig.for_workspace(ws, **options)
        get_backend(cfg.backend).check_config(cfg)
    except KfError as exc:
        raise KfError(f"{label}: {exc}") from None
