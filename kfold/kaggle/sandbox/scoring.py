"""How the stand-in scores an upload: the competition's metric on the Public and on the
Private ids.

The metric and the task come from the workspace as `kf data check` reads them (kfold.toml's
`metric`, else the task's natural one), so the offline loop scores a multi-class log loss, a
MAP@5 or an RMSE contest as Kaggle would; a workspace without training data is scored as the
binary contest it always was (ROC AUC). The upload is read in the sample submission's forms
(`kfold.submission_format`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kfold.errors import KfError
from kfold.scoring import get_metric
from kfold.submission_format import read_output, read_truth


def load_solution(path: Path, id_column: str = "id", target_column: str = "label",
                  columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The solution file `kf data synth` writes: id, the target (`target_column`, or one
    column per label: `columns`), Usage."""
    if not path.exists():
        raise KfError(f"{path} not found: the stand-in scores against the solution file that "
                      f"`kf data synth` writes; run it first")
    sol = pd.read_csv(path, dtype={id_column: str})
    need = {id_column, "Usage", *(columns or (target_column,))}
    if not need <= set(sol.columns):
        raise KfError(f"{path}: needs columns {sorted(need)}, found {list(sol.columns)}")
    return sol


@dataclass(frozen=True)
class Scorer:
    """The competition's metric, and the task whose submissions and truth it reads."""

    id_column: str = "id"
    target_column: str = "label"
    kind: str = "binary"
    classes: tuple[str, ...] = ("0", "1")
    metric: str = "auc"

    @classmethod
    def for_workspace(cls, ws) -> Scorer:
        """The workspace's task and metric; binary AUC when it holds no training data."""
        from kfold.data.sources import workspace_task

        cfg = ws.config
        task = workspace_task(ws)
        return cls(cfg.id_column, cfg.target_column, task.kind, task.classes,
                   task.metric(cfg.metric).name)

    @property
    def label_columns(self) -> tuple[str, ...]:
        """A multi-label solution's truth columns (one per label)."""
        return self.classes if self.kind == "multilabel" else ()

    def load(self, path: Path) -> pd.DataFrame:
        cols = self.label_columns if self._wide(path) else ()
        return load_solution(path, self.id_column, self.target_column, cols)

    def _wide(self, path: Path) -> bool:
        header = pd.read_csv(path, nrows=0).columns if path.exists() else []
        return bool(self.label_columns) and set(self.label_columns) <= set(header)

    def score(self, content: bytes, solution: pd.DataFrame) -> tuple[float, float]:
        """The metric of an uploaded CSV on the Public and on the Private ids; ValueError
        naming what makes it invalid."""
        try:
            sub = pd.read_csv(io.BytesIO(content), dtype={self.id_column: str})
        except Exception as exc:  # noqa: BLE001 - any parse failure is the file's fault
            raise ValueError(f"could not parse the submission as CSV ({exc})") from None
        if self.id_column not in sub.columns:
            raise ValueError(f"no {self.id_column!r} column, found {list(sub.columns)}")
        if sub[self.id_column].duplicated().any():
            raise ValueError("duplicate ids in the submission")
        if set(sub[self.id_column]) != set(solution[self.id_column]):
            raise ValueError("submission ids do not match the solution ids")
        sub = sub.set_index(self.id_column).loc[solution[self.id_column]].reset_index()
        output = read_output(sub, self.id_column, self.kind, self.classes)
        truth = read_truth(solution, self.target_column, self.kind, self.classes)
        metric = get_metric(self.metric)
        out = []
        for usage in ("Public", "Private"):
            part = (solution["Usage"] == usage).to_numpy()
            out.append(metric.score(truth[part], output[part]) if part.any() else float("nan"))
        return float(out[0]), float(out[1])

