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
