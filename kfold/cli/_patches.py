"""Everything the CLI patches at import time, in one place (imported once, by
`kfold/cli/__init__.py`). Each patch says why: both change how output looks, never what a
command does.

- `warnings.showwarning`: kf's own warnings print as one `warning:` line like every other
  message, not Python's `file:line: UserWarning:` form with a source line.
- `display_type_rich` of typer's options and arguments: typer 0.29's help shows `<bool>` next
  to every flag and `<list[str]>` for a repeatable option or argument; flags get no type,
  repeatable ones their value's.
"""

from __future__ import annotations

import os
import warnings

import click
from typer.core import TyperArgument, TyperOption

from kfold.cli._common import say

_python_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """kf's own warnings (`warnings.warn` in the library, e.g. a tracking failure after the
    work is done) as one `warning:` line like the others; anything else as Python prints it."""
    if issubclass(category, UserWarning) and f"{os.sep}kfold{os.sep}" in str(filename):
        say("warning", "yellow", str(message))
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def _flag_without_placeholder(original):
    """typer 0.29's rich help prints a `<bool>` type next to every flag (`--force <bool>`),
    which reads as if the flag took a value; flags get no type column. A repeatable option
    or argument shows its value's type (`<str>`, not `<list[str]>`); its help says it
    repeats."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        if getattr(self, "is_flag", False):
            return None
        shown = original(self, ctx)
        if isinstance(shown, str) and shown.startswith("<list[") and shown.endswith("]>"):
            return f"<{shown[6:-2]}>"
        return shown

    return display_type_rich


_DISPLAY = {cls: _flag_without_placeholder(cls.display_type_rich)
            for cls in (TyperOption, TyperArgument)}


def apply() -> None:
    """Install the patches (idempotent: the originals are kept once, above)."""
    warnings.showwarning = _show_warning
    for cls, display in _DISPLAY.items():
        cls.display_type_rich = display
