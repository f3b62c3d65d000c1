"""Every table kf prints goes through here: a title, columns, rows of cells, a caption.

The modules that know what to show (runs, data check, stack, Kaggle, explain, bench) build
rows; this module alone knows rich tables. Cells are plain text, never rich markup, so user
data such as an id `[x]` prints as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class Col:
    """A column: its header and how it lays out (numbers right, long text folded)."""

    name: str
    right: bool = False
    no_wrap: bool = False
    fold: bool = False
    bold: bool = False
    min_width: int | None = None  # never squeezed below this on a narrow terminal


def table(title: str, columns: Sequence[str | Col], rows: Iterable[Sequence[object]], *,
          caption: str | None = None, header: bool = True,
          styles: Sequence[str | None] | None = None) -> Table:
    """A rich Table; `styles[i]` (e.g. "bold green") highlights row i."""
    t = Table(title=title, caption=caption, show_header=header)
    for c in columns:
        c = c if isinstance(c, Col) else Col(c)
        t.add_column(c.name, justify="right" if c.right else "left", no_wrap=c.no_wrap,
                     overflow="fold" if c.fold else "ellipsis", style="bold" if c.bold else None,
                     min_width=c.min_width)
    for i, row in enumerate(rows):
        t.add_row(*(Text(cell_text(v)) for v in row), style=styles[i] if styles else None)
    return t


def records(title: str, rows: list[dict], text_columns: Iterable[str] = ()) -> Table:
    """A table of dict rows (columns in first-seen order); numbers right-aligned."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cols = [Col(k, right=k not in set(text_columns)) for k in keys]
    return table(title, cols, [[r.get(k) for k in keys] for r in rows])


def cell_text(value: object) -> str:
    """How a cell shows a value: None blank, small floats to 3 decimals, large ones grouped."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def num(value: float | None, fmt: str = ".3f") -> str:
    """A number in `fmt`, or "-" when there is none."""
    return "-" if value is None else format(value, fmt)


# --- machine-readable output (--format json|csv) -----------------------------------------
FORMATS = ("table", "json", "csv")


def check_format(fmt: str) -> str:
    from kfold.errors import KfError

    if fmt not in FORMATS:
        raise KfError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


def plain(value: object) -> object:
    """A value JSON can hold: NaN and infinities become None, numpy scalars Python ones,
    datetimes ISO text, paths text, dataclasses dicts."""
    import dataclasses
    import math
    from datetime import date
    from pathlib import PurePath

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return value


def dumps(data: object, fmt: str, columns: Sequence[str] = ()) -> str:
    """`data` as JSON (any structure) or CSV (a list of flat dicts: nested values become JSON
    text in their cell; None an empty cell). `columns` come first in the CSV header, so that
    a list with no rows still has one (pandas.read_csv refuses an empty file)."""
    import json

    data = plain(data)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    import csv
    import io

    rows = data if isinstance(data, list) else [data]
    keys = list(dict.fromkeys([*columns, *(k for r in rows for k in r)]))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                         for k, v in r.items()})
    return out.getvalue()
