"""Stacking: blend several runs' OOF predictions with a fold-honest cross-validated score.

Entry points: `stack_runs` (check, cross-fit, refit, write), `render_stack_report` (the
table), `plot_runs` (correlation heatmap + ROC curves). Its speed: `kf bench --case stack`.
Binary AUC contests: `run`, `blenders`, `cv`; every other contest (multi-class, multi-label,
regression, binary by another metric): `task_run`, `task_blenders`, `inputs`.
"""

from kfold.stack.blenders import BLENDERS, Blender, create_blender, list_blenders
from kfold.stack.run import Score, StackReport, stack_runs

__all__ = [
    "BLENDERS", "Blender", "Score", "StackReport", "create_blender",
    "list_blenders", "plot_runs", "render_stack_report", "stack_runs",
]


def __getattr__(name):  # heavy imports (matplotlib, rich) only when used
    if name == "plot_runs":
        from kfold.stack.plots import plot_runs
        return plot_runs
    if name == "render_stack_report":
        from kfold.stack.render import render_stack_report
        return render_stack_report
    raise AttributeError(name)
