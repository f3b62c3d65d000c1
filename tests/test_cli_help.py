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
        assert "<list[" not in r.output, (path, r.output)  # a repeatable option: <str>
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


def test_brackets_in_help_are_shown_not_read_as_markup():
    """A help text's [section] or [[table]] (TOML) reaches the screen: rich would otherwise
    swallow it as a style tag."""
    import re

    seen = 0
    for path, cmd in COMMANDS:
        for p in cmd.params:
            words = re.findall(r"\[+[a-z]+\]+", (getattr(p, "help", None) or "").replace("\\", ""))
            if words:
                out = runner.invoke(app, [*path, "--help"]).output
                seen += 1
                assert all(w in out for w in words), (path, words, out)
    assert seen >= 1


def test_each_command_summary_in_kf_help_is_one_sentence_on_one_line():
    for path, cmd in [*COMMANDS, *((p, c) for p, c in _groups(ROOT))]:
        summary = (cmd.help or "").strip().split("\n\n")[0]
        assert "\n" not in summary and summary.endswith("."), (path, summary)


def _groups(group, path=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield (*path, name), cmd
            yield from _groups(cmd, (*path, name))


def test_every_command_comes_from_its_modules_app_and_each_group_once():
    names = [path for path, _ in COMMANDS]
    assert len(names) == len(set(names)) and ("data", "synth") in names
    assert ("submission", "download") in names and ("sandbox", "serve") in names


def _help(path: tuple[str, ...], option: str) -> str:
    cmd = dict(COMMANDS)[path]
    return next(p.help for p in cmd.params if option in getattr(p, "opts", []))


def test_help_that_lists_registry_names_lists_exactly_the_registry():
    """Names in a help text cannot drift from what the command accepts."""
    from kfold.backends import BACKENDS
    from kfold.backends.torch.cam import METHODS
    from kfold.stack.blenders import BLENDERS

    assert f"One of: {' or '.join(BACKENDS)}." in _help(("train",), "--backend")
    blender_help = _help(("stack",), "--blender")
    assert all(name in blender_help for name in BLENDERS)
    assert all(name in _help(("explain",), "--method") for name in METHODS)
    from kfold.nets import list_models

    assert all(name in _help(("train",), "--model") for name in list_models())
