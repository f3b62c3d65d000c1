"""Every file name of a run folder (`models/<run>/`), in one place.

A *tag* names one model of a run: `fold0` .. `fold{k-1}` for the k-fold models, `full` for
the retrain on 100%. What a backend writes for a tag (its checkpoint, its resume state) it
names itself (kfold.backends.Backend.checkpoint_files); everything else is named here.
The run's prediction files live outside the folder, in `oof/` (kfold.workspace).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FULL_TAG = "full"


def fold_tag(k: int) -> str:
    return f"fold{k}"


def fold_of(tag: str) -> int | None:
    """The fold of a `fold<k>` tag, None for `full`: only for tags read back from a file (a
    package's model list); code that made a tag carries its fold as an int."""
    return int(tag.removeprefix("fold")) if tag.startswith("fold") else None


@dataclass(frozen=True)
class RunFiles:
    dir: Path

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def record(self) -> Path:
        """run.json: the typed run record (kfold.record), read and written by kfold.artifacts."""
        return self.dir / "run.json"

    @property
    def lock(self) -> Path:
        """`models/.<run>.lock`, beside the folder (kfold.locks): held while a command writes
        the run; outside the folder so that --force can replace the folder while holding it."""
        return self.dir.parent / f".{self.name}.lock"

    @property
    def config(self) -> Path:
        """config.json: the TrainConfig, written first; a rerun must match it."""
        return self.dir / "config.json"

    @property
    def teacher(self) -> Path:
        """teacher.json: what taught the run (kfold.train.teach), written with config.json;
        a rerun must match it."""
        return self.dir / "teacher.json"

    @property
    def curves(self) -> Path:
        return self.dir / "curves.png"

    def result(self, tag: str) -> Path:
        """`<tag>.result.json`: written last, it marks the tag finished."""
        return self.dir / f"{tag}.result.json"

    def preds(self, tag: str) -> Path:
        """`<tag>.preds.npz`: the tag's validation and test predictions."""
        return self.dir / f"{tag}.preds.npz"

    def history(self, tag: str) -> Path:
        """`history_<tag>.csv`: one row per epoch, written by the backend."""
        return self.dir / f"history_{tag}.csv"

    @property
    def pruned(self) -> Path:
        """pruned.json: kf tune stopped this run after its first folds (kfold.tune); it has
        no OOF predictions and is never stacked."""
        return self.dir / "pruned.json"

    def finished_folds(self) -> list[Path]:
        return sorted(self.dir.glob("fold*.result.json")) if self.dir.exists() else []

    @property
    def explain_dir(self) -> Path:
        return self.dir / "explain"

    def explain_grid(self, method: str) -> Path:
        return self.explain_dir / f"{_slug(method)}.png"

    def explain_table(self, method: str) -> Path:
        return self.explain_dir / f"{_slug(method)}.csv"


def _slug(method: str) -> str:
    return method.replace("+", "p")
