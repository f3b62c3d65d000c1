"""The workspace: a folder holding `kfold.toml`, `data/` and the artifact folders.

Every path an artifact lives at is derived here, so train, stack, submit and explain agree
on where things are without passing paths around.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

import tomli_w
import tomllib

from kfold import atomic
from kfold.errors import KfError
from kfold.runfiles import RunFiles
from kfold.settings import TOML, check_fields, fields_from, settings_for

CONFIG_NAME = "kfold.toml"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
NAME_MAX = 100  # a run's files add suffixes such as ".full.test.parquet" to its name
NEW_RUN_MAX = 80  # leaves room for "-full", the 100%-retrain's submission name
# kf stack names its outputs stack-<blender>; another run's files end in these suffixes
RESERVED_PREFIX = "stack-"
RESERVED_SUFFIXES = (".test", ".full", "-full")


def check_name(name: str, what: str = "run name") -> str:
    """A run, stack or submission name is a name, never a path: letters, digits, `-_.`, not
    starting with a dot, bounded length. Every artifact path is derived through here."""
    if not isinstance(name, str) or len(name) > NAME_MAX or not NAME.fullmatch(name):
        shown = repr(name if not isinstance(name, str) or len(name) <= 40 else name[:40] + "...")
        size = f" ({len(name)} characters)" if isinstance(name, str) and len(name) > 40 else ""
        raise KfError(f"{what} {shown}{size} is not a valid name: use 1 to {NAME_MAX} letters, "
                      "digits, '-', '_' or '.', not starting with '.' (a name, not a path)")
    return name


def check_new_run_name(name: str) -> str:
    """A name `kf train` may give a new run: valid, short enough for its retrain's files, and
    not one that collides with a stack's or another run's files."""
    check_name(name)
    if len(name) > NEW_RUN_MAX:
        raise KfError(f"run name {name[:40]!r}... has {len(name)} characters; "
                      f"use at most {NEW_RUN_MAX}")
    if name.lower().startswith(RESERVED_PREFIX):
        raise KfError(f"run name {name!r}: names starting with {RESERVED_PREFIX!r} are kept for "
                      "`kf stack`'s outputs; choose another --name")
    if name.lower().endswith(RESERVED_SUFFIXES):
        raise KfError(f"run name {name!r}: names ending in {', '.join(RESERVED_SUFFIXES)} would "
                      "share files with another run's; choose another --name")
    return name


@fields_from(TOML)
class Config:
    """What `kfold.toml` holds: the competition, how its data is laid out, and the defaults
    of every run (the kfold.toml rows of `kfold.settings.SETTINGS`)."""

    @classmethod
    def from_dict(cls, raw: dict) -> Config:
        """The configuration `raw` (kfold.toml's table) describes, checked once: unknown keys,
        values of the wrong type and out-of-range numbers are named with what was expected."""
        known = sorted(s.name for s in settings_for(TOML))
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise KfError(f"{CONFIG_NAME}: unknown key(s) {unknown}; known keys are {known}")
        config = cls(**raw)
        check_fields(config, lambda s, v: f"{CONFIG_NAME}: {s.name} = {v!r}")
        return config

    def to_dict(self) -> dict:
        """The keys TOML can hold (unset optional keys are left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Workspace:
    """Paths of one competition workspace and its configuration."""

    root: Path
    config: Config

    @classmethod
    def load(cls, root: str | Path | None = None, *, must_exist: bool = False) -> Workspace:
        """Open the workspace at `root` (default: $KF_WORKSPACE or the current folder).

        A folder without `kfold.toml` is a workspace with the default configuration. A file is
        never a workspace; a folder that does not exist is one only when not `must_exist`
        (commands that create one: `kf data synth`, `kf data download`).
        """
        given = root or os.environ.get("KF_WORKSPACE") or "."
        root = Path(given).resolve()
        if root.exists() and not root.is_dir():
            raise KfError(f"workspace {given} is a file, not a folder; point --workspace (or "
                          "KF_WORKSPACE) at a workspace folder")
        if must_exist and not root.exists():
            raise KfError(f"workspace {given} does not exist; point --workspace (or "
                          "KF_WORKSPACE) at a workspace folder, or make one with "
                          f"`kf data synth -w {given}`")
        path = root / CONFIG_NAME
        if not path.exists():
            return cls(root, Config())
        try:
            raw = tomllib.loads(path.read_bytes().decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc
            raise KfError(f"{path}: not valid TOML ({why}); fix it, or delete it to use the "
                          "defaults") from None
        except OSError as exc:
            raise KfError(f"{path} cannot be read ({exc.strerror}); it must be a TOML file "
                          "kf can read (or absent, for the defaults)") from None
        return cls(root, Config.from_dict(raw))

    @classmethod
    def init(cls, root: str | Path, **overrides) -> Workspace:
        """Create (or update) `kfold.toml` at `root` with `overrides` on the defaults."""
        root = Path(root).resolve()
        current = cls.load(root).config if (root / CONFIG_NAME).exists() else Config()
        config = dataclasses.replace(current, **overrides)
        ws = cls(root, config)
        ws.save()
        return ws

    def save(self) -> None:
        atomic.write_text(self.root / CONFIG_NAME, tomli_w.dumps(self.config.to_dict()))

    # --- folders -------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / self.config.data_dir

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def oof_dir(self) -> Path:
        return self.root / "oof"

    @property
    def submissions_dir(self) -> Path:
        return self.root / "submissions"

    @property
    def cache_dir(self) -> Path:
        return self.root / ".cache"

    @property
    def folds_path(self) -> Path:
        return self.root / "folds.csv"

    @property
    def tune_dir(self) -> Path:
        """`tune/`: kf tune's studies (`<study>.journal`) and their history plots."""
        return self.root / "tune"

    # --- per-run artifacts ---------------------------------------------------------------
    def run_dir(self, run: str) -> Path:
        return self.models_dir / check_name(run)

    def run_files(self, run: str) -> RunFiles:
        return RunFiles(self.run_dir(run))

    def run_json(self, run: str) -> Path:
        return self.run_files(run).record

    def oof_path(self, run: str) -> Path:
        return self.oof_dir / f"{check_name(run)}.parquet"

    def test_path(self, run: str) -> Path:
        return self.oof_dir / f"{check_name(run)}.test.parquet"

    def full_test_path(self, run: str) -> Path:
        return self.oof_dir / f"{check_name(run)}.full.test.parquet"

    def submission_path(self, name: str) -> Path:
        return self.submissions_dir / f"{check_name(name, 'submission name')}.csv"

    @property
    def ledger_path(self) -> Path:
        return self.submissions_dir / "ledger.sqlite"
