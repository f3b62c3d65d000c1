"""Help and version: every command's --help works and reads right; short options mean one
thing across commands."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from kfold import __version__
from kfold.cli import app

runner = CliRunner()


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


ROOT = typer.main.get_command(app)
COMMANDS = list(_commands(ROOT))


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"kf {__version__}"


def test_every_help_exits_cleanly_without_bool_placeholders():
    assert len(COMMANDS) >= 15
    for path, _ in COMMANDS:
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
        assert "Usage" in r.output and "<bool>" not in r.output, (path, r.output)
        assert "unexpected" not in r.output


def test_a_short_option_means_the_same_everywhere():
    meaning: dict[str, set[str]] = {}
    for _, cmd in COMMANDS:
        for p in cmd.params:
            for opt in getattr(p, "opts", []):
                if len(opt) == 2 and opt.startswith("-"):
                    meaning.setdefault(opt, set()).add(p.name)
    assert meaning["-m"] == {"message"}
    assert {k: v for k, v in meaning.items() if len(v) > 1} == {}
