"""The workspace: a folder holding `kfold.toml`, `data/` and the artifact folders.

Every path an artifact lives at is derived here, so train, stack, submit and explain agree
on where things are without passing paths around.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import tomli_w
import tomllib

from kfold import atomic
from kfold.errors import KfError
from kfold.runfiles import RunFiles

CONFIG_NAME = "kfold.toml"


@dataclass(frozen=True)
class Config:
    """What `kfold.toml` holds: the competition and how its data is laid out."""

    competition: str = "nexperia-synth"
    data_dir: str = "data"
    id_column: str = "id"
    target_column: str = "label"
    positive_class: str = "bad_1"
    n_folds: int = 5
    seed: int = 42
    image_size: int = 64
    daily_limit: int = 5

    @classmethod
    def from_dict(cls, raw: dict) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise KfError(f"{CONFIG_NAME}: unknown key(s) {unknown}; known keys are {sorted(known)}")
        return cls(**raw)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Workspace:
    """Paths of one competition workspace and its configuration."""

    root: Path
    config: Config

    @classmethod
    def load(cls, root: str | Path | None = None) -> Workspace:
        """Open the workspace at `root` (default: $KF_WORKSPACE or the current folder).

        A folder without `kfold.toml` is a workspace with the default configuration.
        """
        root = Path(root or os.environ.get("KF_WORKSPACE") or ".").resolve()
        path = root / CONFIG_NAME
        if not path.exists():
            return cls(root, Config())
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise KfError(f"{path}: not valid TOML ({exc})") from None
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

    # --- per-run artifacts ---------------------------------------------------------------
    def run_dir(self, run: str) -> Path:
        return self.models_dir / run

    def run_files(self, run: str) -> RunFiles:
        return RunFiles(self.run_dir(run))

    def run_json(self, run: str) -> Path:
        return self.run_files(run).record

    def oof_path(self, run: str) -> Path:
        return self.oof_dir / f"{run}.parquet"

    def test_path(self, run: str) -> Path:
        return self.oof_dir / f"{run}.test.parquet"

    def full_test_path(self, run: str) -> Path:
        return self.oof_dir / f"{run}.full.test.parquet"

    def submission_path(self, name: str) -> Path:
        return self.submissions_dir / f"{name}.csv"

    @property
    def ledger_path(self) -> Path:
        return self.submissions_dir / "ledger.sqlite"
