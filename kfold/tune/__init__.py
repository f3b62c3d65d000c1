"""`kf tune`: a hyper-parameter search over k-fold CV with Optuna. The space (`space`) is
checked as kf train checks its options; the study (`study`) lives in the workspace; each
trial (`run`) is a kf run pruned fold by fold; `report` shows what the study found."""

from __future__ import annotations

from pathlib import Path

from kfold.execute import Executor
from kfold.progress import Reporter
from kfold.tune.report import TuneReport, trials_table, tune_report
from kfold.tune.run import Search, parse_duration, tune
from kfold.tune.space import Space, read_space
from kfold.workspace import Workspace

__all__ = ["Search", "Space", "TuneReport", "parse_duration", "read_space", "run_tune",
           "trials_table", "tune", "tune_report"]


def run_tune(ws: Workspace, space_path: Path, search: Search, *,
             executor: Executor | None = None, skip_bad: bool = False,
             reporter: Reporter = Reporter()) -> TuneReport:
    """`kf tune`: the space checked, the study's trials run (or resumed), the report."""
    space = read_space(space_path, ws)
    study = tune(ws, space, search, executor=executor, skip_bad=skip_bad, reporter=reporter)
    return tune_report(ws, study, space)
