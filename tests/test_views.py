"""views: the one place tables are built; cells are plain text."""

from rich.console import Console

from kfold import views


def _text(renderable) -> str:
    console = Console(record=True, width=120)
    console.print(renderable)
    return console.export_text()


def test_cells_are_never_markup():
    out = _text(views.table("t", ["id", "why"], [["[bold]x", "(first: [nan])"]]))
    assert "[bold]x" in out and "(first: [nan])" in out


def test_records_format_numbers_and_blanks():
    out = _text(views.records("bench", [{"case": "a", "img/s": 12345.6, "ratio": 1.23456},
                                        {"case": "b", "ratio": None}], text_columns=["case"]))
    assert "12,346" in out and "1.235" in out and "None" not in out


def test_num_shows_a_dash_for_nothing():
    assert views.num(None) == "-" and views.num(0.12345, ".2f") == "0.12"


def test_json_holds_plain_values_and_nan_as_null():
    import json
    from datetime import datetime

    import numpy as np

    text = views.dumps([{"a": np.float64(0.5), "b": float("nan"), "when": datetime(2026, 1, 2),
                         "folds": [np.int64(1), 2]}], "json")
    assert json.loads(text) == [{"a": 0.5, "b": None, "when": "2026-01-02T00:00:00",
                                 "folds": [1, 2]}]


def test_csv_has_one_header_and_blank_cells_for_nothing():
    import csv
    import io

    text = views.dumps([{"run": "a,b", "auc": 0.9, "folds": [1, 2]}, {"run": "c", "auc": None}],
                       "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{"run": "a,b", "auc": "0.9", "folds": "[1, 2]"},
                    {"run": "c", "auc": "", "folds": ""}]


def test_unknown_format_is_refused():
    import pytest

    from kfold.errors import KfError

    with pytest.raises(KfError, match="table, json, csv"):
        views.check_format("xml")
