"""Progress reporting kept apart from the work: library code reports to a `Reporter`.

`Reporter()` is silent (notebooks, tests); the CLI passes a `RichReporter` that draws bars.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Task:
    """One bar: `advance` moves it, keyword fields show beside it (loss, auc...)."""

    def __init__(self, progress: Progress | None = None, task_id=None) -> None:
        self._progress, self._id = progress, task_id

    def advance(self, n: int = 1, **fields) -> None:
        if self._progress is not None:
            info = "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in fields.items())
            self._progress.update(self._id, advance=n, **({"info": info} if fields else {}))


class Board:
    """A table of jobs updated in place (`kf train --executor ray`: runs x folds, node,
    epoch, AUC); cells keep their last value. Silent here; RichReporter draws it live."""

    COLUMNS = ("job", "status", "node", "gpu", "epoch", "loss", "auc")

    def __init__(self, rows: list[str]) -> None:
        self.cells = {row: {"job": row, "status": "queued"} for row in rows}

    def update(self, row: str, **fields) -> None:
        self.cells[row].update(fields)
        self.refresh()

    def refresh(self) -> None:
        pass

    def render(self):
        from kfold.views import table

        return table("folds", self.COLUMNS,
                     [[c.get(k) for k in self.COLUMNS] for c in self.cells.values()])


class Reporter:
    """Silent reporter: the default for library calls."""

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Task]:
        yield Task()

    @contextmanager
    def board(self, rows: list[str]) -> Iterator[Board]:
        yield Board(rows)

    def log(self, message: str) -> None:
        pass


class RichReporter(Reporter):
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Task]:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
        with Progress(*columns, console=self.console, transient=False) as progress:
            yield Task(progress, progress.add_task(description, total=total, info=""))

    @contextmanager
    def board(self, rows: list[str]) -> Iterator[Board]:
        board = _LiveBoard(rows)
        with Live(board.render(), console=self.console, refresh_per_second=4) as live:
            board.live = live
            yield board

    def log(self, message: str) -> None:
        self.console.print(message, highlight=False)


class _LiveBoard(Board):
    live: Live | None = None

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self.render())
