"""`kf`: a thin typer layer. Each module registers one command group; logic lives in kfold.*"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="kf",
    help="k-fold CNN training, stacking and Kaggle submissions for image contests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per command group; each exposes `register(app)`.
_GROUPS = ["data", "train", "runs", "stack", "kaggle", "bench", "explain", "demo"]

for _name in _GROUPS:
    importlib.import_module(f"kfold.cli.{_name}").register(app)


def main() -> None:
    app()
