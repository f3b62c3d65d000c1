"""How the stand-in scores an upload: ROC AUC on the Public and on the Private ids."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from kfold.errors import KfError


def load_solution(path: Path, id_column: str = "id", target_column: str = "label") -> pd.DataFrame:
    """The solution file `kf data synth` writes (columns id, label, Usage)."""
    if not path.exists():
        raise KfError(f"{path} not found: the stand-in scores against the solution file that "
                      f"`kf data synth` writes; run it first")
    sol = pd.read_csv(path, dtype={id_column: str})
    need = {id_column, target_column, "Usage"}
    if not need <= set(sol.columns):
        raise KfError(f"{path}: needs columns {sorted(need)}, found {list(sol.columns)}")
    return sol


def score_file(content: bytes, solution: pd.DataFrame, id_column: str,
               target_column: str) -> tuple[float, float]:
    """ROC AUC of an uploaded CSV on the Public and on the Private ids; ValueError if invalid."""
    try:
        sub = pd.read_csv(io.BytesIO(content), dtype={id_column: str})
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's fault
        raise ValueError(f"could not parse the submission as CSV ({exc})") from None
    if id_column not in sub.columns or len(sub.columns) != 2:
        raise ValueError(f"expected 2 columns with {id_column!r}, found {list(sub.columns)}")
    pred_col = next(c for c in sub.columns if c != id_column)
    if sub[id_column].duplicated().any():
        raise ValueError("duplicate ids in the submission")
    if set(sub[id_column]) != set(solution[id_column]):
        raise ValueError("submission ids do not match the solution ids")
    preds = sub[[id_column, pred_col]].rename(columns={pred_col: "__pred"})
    merged = solution.merge(preds, on=id_column)
    pred = pd.to_numeric(merged["__pred"], errors="coerce")
    if pred.isna().any():
        raise ValueError("missing or non-numeric predictions")
    out = []
    for usage in ("Public", "Private"):
        part = merged["Usage"] == usage
        y = merged.loc[part, target_column].to_numpy()
        out.append(float(roc_auc_score(y, pred[part].to_numpy())) if len(set(y)) > 1 else float("nan"))
    return out[0], out[1]
