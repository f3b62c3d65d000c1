"""`kf grid FILE.toml`: many runs trained together, every fold of every run one job, so
that with `--executor ray` they spread over all the GPUs at once.

The file lists runs; each takes the options `kf train` takes (dashes or underscores), and
a `[defaults]` table holds what they share:

    [defaults]
    epochs = 10
    image-size = 64

    [[run]]
    name = "cnn-seed1"
    model = "simple-cnn"
    model-seed = 1

    [[run]]
    name = "resnet18-crop"
    model = "resnet18"
    crop = 20

A run without `name` gets kf train's default (<model>-<size>px). Runs already finished are
skipped; unfinished ones resume, as with `kf train`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomllib

from kfold import artifacts
from kfold.errors import KfError
from kfold.execute import Executor
from kfold.progress import Reporter
from kfold.record import RunRecord
from kfold.runfiles import fold_tag
from kfold.settings import TRAIN, Setting, settings_for
from kfold.train_config import TrainConfig, read_train_config
from kfold.workspace import Workspace, check_new_run_name

# Every spelling of every training setting (image_size, image-size; folds for n_folds).
KEYS = {key: s for s in settings_for(TRAIN) for key in s.keys()}


@dataclass(frozen=True)
class GridRun:
    name: str
    cfg: TrainConfig


def read_grid(path: Path, ws: Workspace) -> list[GridRun]:
    """The runs of a grid file, each config complete (workspace defaults filled in)."""
    path = Path(path)
    data = read_toml(path, "grid file", "kf grid", {"defaults": "[defaults]", "run": "[[run]] entries"})
    defaults, entries = data.get("defaults", {}), data.get("run", [])
    if not isinstance(defaults, dict) or not isinstance(entries, list) or not entries:
        raise KfError(f"{path}: no runs; add [[run]] entries (see kf grid --help)")
    if not all(isinstance(entry, dict) for entry in entries):
        raise KfError(f"{path}: `run` must hold [[run]] tables of kf train's options "
                      "(see kf grid --help)")
    runs: list[GridRun] = []
    shared = file_options(defaults, f"{path.name} [defaults]")
    for i, entry in enumerate(entries, 1):
        label = f"{path.name} [[run]] " + (repr(entry["name"]) if "name" in entry else f"#{i}")
        options = {**shared, **file_options(entry, label)}
        name = options.pop("name", None)
        try:
            cfg = TrainConfig.for_workspace(ws, **options)
        except KfError as exc:
            raise KfError(f"{label}: {exc}") from None
        from kfold.train.run import default_run_name

        name = name or default_run_name(cfg)
        try:
            check_new_run_name(name)
        except KfError as exc:
            raise KfError(f"{label}: {exc}") from None
        same = [j for j, r in enumerate(runs, 1) if r.name == name]
        if same:
            raise KfError(f"{label}: duplicate run name {name!r} (run #{same[0]} has it too); "
                          "give each run its own name")
        runs.append(GridRun(name, cfg))
    return runs


def file_options(table: dict, label: str) -> dict:
    """A file's table of kf train's options by setting name, each checked and named as the
    file spells it (`grid.toml [[run]] 'b': lr = -1 must be ...`); unknown keys refused."""
    out = {}
    for key, value in table.items():
        if key == "name":
            if not isinstance(value, str):
                raise KfError(f"{label}: name = {value!r} must be a text")
            out["name"] = value
            continue
        setting_of(key, label).check(value, f"{label}: {key} = {value!r}")
        out[KEYS[key].name] = value
    return out


def setting_of(key: str, label: str) -> Setting:
    """The training setting a file's key spells (a kf tune space's keys too)."""
    if key not in KEYS:
        known = ", ".join(sorted({s.cli.removeprefix("--") for s in KEYS.values()} | {"name"}))
        raise KfError(f"{label}: unknown option {key!r}; known: {known}")
    return KEYS[key]


def read_toml(path: Path, what: str, command: str, tables: dict[str, str]) -> dict:
    """A TOML file of kf train's options (a grid file, a kf tune space) holding only
    `tables` (name: how the refusal shows it)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise KfError(f"{what} {path} not found") from None
    except IsADirectoryError:
        raise KfError(f"{what} {path} is a folder; give a TOML file (see {command} --help)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KfError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(tables))
    if unknown:
        raise KfError(f"{path}: unknown table(s) {unknown}; a {what} has "
                      + " and ".join(tables.values()))
    return data


def run_grid(ws: Workspace, runs: list[GridRun], *, executor: Executor | None = None,
             skip_bad: bool = False, reporter: Reporter = Reporter()) -> list[RunRecord]:
    """Train the grid's unfinished runs together: every fold of every run is one job of a
    single executor call (on Ray, 75 folds on 8 GPUs take about 75 / 8 fold-times).
    Finished runs are read back, not retrained. Returns every run's record, in file order."""
    from kfold.data.sources import discover
    from kfold.train.run import plan_run, train_runs

    records, plans, dataset = {}, [], None
    for run in runs:
        if is_finished(ws, run):
            reporter.log(f"{run.name}: already finished, skipping")
            records[run.name] = artifacts.read_run(ws, run.name)
        else:
            try:
                dataset = dataset or discover(ws)  # scanned once for every run
                plans.append(plan_run(ws, run.cfg, run.name, dataset=dataset))
            except KfError as exc:
                raise KfError(f"grid run {run.name!r}: {exc}") from None
    if plans:
        reporter.log(f"training {len(plans)} run(s) together: "
                     + ", ".join(p.name for p in plans))
        trained = train_runs(ws, plans, skip_bad=skip_bad, reporter=reporter, executor=executor)
        records |= {r.name: r for r in trained}
    return [records[r.name] for r in runs]


def is_finished(ws: Workspace, run: GridRun) -> bool:
    """run.json written, with the same settings and every fold in."""
    files = ws.run_files(run.name)
    if not (files.record.exists() and files.config.exists()):
        return False
    old = read_train_config(files.config)
    return (old.comparable() == run.cfg.comparable()
            and all(files.result(fold_tag(k)).exists() for k in range(run.cfg.n_folds)))
