"""The user's CSV files (train.csv, test.csv, sample_submission.csv, folds.csv, boxes) read
so that any way one can be broken is one `KfError` naming the file, never a pandas traceback."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from kfold.errors import KfError, first_line


def read_csv(path: Path, id_column: str | None = None, *, rows: bool = True) -> pd.DataFrame:
    """`path` as a frame with `id_column` (when given) read as text; an empty, unparsable,
    non-UTF-8 or unreadable file, a folder in its place, or (with `rows`) a file without any
    row is refused."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={id_column: str} if id_column else None)
    except pd.errors.EmptyDataError:
        raise KfError(f"{path} is empty; it needs a header line and one row per image") from None
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError, ValueError) as exc:
        first = first_line(exc, 120)
        raise KfError(f"{path} is not a readable CSV file ({first}); fix or replace it") from None
    except IsADirectoryError:
        raise KfError(f"{path} is a folder, not a CSV file") from None
    except OSError as exc:
        raise KfError(f"{path} cannot be read ({exc.strerror or exc}); check the file") from None
    if rows and frame.empty:
        raise KfError(f"{path} has a header but no rows; it needs one row per image")
    return frame


def require_id_column(frame: pd.DataFrame, column: str, path: Path, key: str = "id_column") -> None:
    """Refuse a table without `column`, pointing at a column that differs only in case."""
    if column in frame.columns:
        return
    close = [c for c in frame.columns if str(c).strip().lower() == column.lower()]
    hint = (f"; it has {close[0]!r}: set {key} = \"{close[0]}\" in kfold.toml" if close
            else f"; set {key} in kfold.toml to the right column")
    raise KfError(f"{path} has no {column!r} column (columns: {list(frame.columns)}){hint}")


def require_unique(ids: pd.Series, path: Path) -> None:
    """Refuse duplicate ids, naming how many and the first ones."""
    dup = ids[ids.duplicated()]
    if len(dup):
        raise KfError(f"{path} lists {len(dup)} id(s) twice, first: {dup.head(5).tolist()}; "
                      "each image must appear once")
