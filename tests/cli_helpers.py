"""The command line as tests call it: `kf(ws, "stack")` runs `kf stack -w <ws>` in this
process and returns its output, failing the test with that output when it exits non-zero."""

from __future__ import annotations

from typer.testing import CliRunner

from kfold.cli import app
from kfold.workspace import Workspace

runner = CliRunner()


def kf(ws: Workspace, *args: str) -> str:
    result = runner.invoke(app, [*args, "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    return result.output
