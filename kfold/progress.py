"""Progress reporting kept apart from the work: library code reports to a `Reporter`.

`Reporter()` is silent (notebooks, tests); the CLI passes a `RichReporter` that draws bars.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
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


class Reporter:
    """Silent reporter: the default for library calls."""

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Task]:
        yield Task()

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

    def log(self, message: str) -> None:
        self.console.print(message, highlight=False)
