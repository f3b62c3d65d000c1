"""Option groups several commands take, written once: every training setting
(`kfold.settings.SETTINGS`, for `kf train`) and the executor options (`kf train`, `kf grid`,
`kf retrain`). A command declares `**settings` or `**executor` and is decorated with
`with_options(...)`, which adds the group's typer options to the signature typer reads."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated

import typer

from kfold import registry_names
from kfold.registry_names import spelled
from kfold.settings import TOML, TRAIN, Setting, settings_for


def _param(name: str, annotation: object, default: object, *decls: str,
           help: str) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, typer.Option(*decls, help=help)])


def _names(setting: str) -> str:
    """The names a registry holds for `setting`, as its help lists them: from
    kfold.registry_names and the backends' light `BACKENDS`, never the registries
    themselves (the model registry would load torch and timm for every `kf` call)."""
    from kfold.backends import BACKENDS

    listed = {"backend": f" One of: {spelled(BACKENDS)}.",
              "model": f" Registered: {', '.join(registry_names.MODELS)}."}
    return listed.get(setting, "")


def _setting_param(s: Setting) -> inspect.Parameter:
    """A setting as an option. A kfold.toml setting defaults to None (not given: the
    workspace's value); the others show the table's default."""
    from_toml = TOML in s.where
    hint = f" (default: kfold.toml, else {s.default})" if from_toml else ""
    hint += _names(s.name)
    default = None if from_toml else s.default
    annotation = s.kind | None if from_toml or s.optional else s.kind
    decls = (s.cli, s.short) if s.short else (s.cli,)
    return _param(s.name, annotation, default, *decls, help=s.described + hint)


SETTING_OPTIONS = tuple(_setting_param(s) for s in settings_for(TRAIN))
SETTING_OPTION = {p.name: p for p in SETTING_OPTIONS}  # e.g. kf folds' --folds and --seed

EXECUTOR_OPTIONS = (
    _param("executor", str, "local", "--executor",
           help="local (this process, one fold after another) or ray (folds as Ray tasks "
                "over every GPU)."),
    _param("address", str | None, None, "--address",
           help="Ray: an existing cluster (HOST:PORT, ray://HOST:PORT or auto); default: "
                "start Ray here."),
    _param("gpus_per_fold", float | None, None, "--gpus-per-fold",
           help="Ray: GPUs per fold, fractions share one (default: 1 when the cluster has "
                "GPUs, else 0)."),
    _param("cpus_per_fold", float | None, None, "--cpus-per-fold",
           help="CPUs per fold, which set its threads (default: Ray 1, local all)."),
)


def with_options(*groups: tuple[inspect.Parameter, ...]) -> Callable:
    """Decorator: the command's `**kwargs` stand for the options of `groups`, added to the
    signature typer reads (after the command's own options, in the groups' order)."""

    def wrap(func: Callable) -> Callable:
        sig = inspect.signature(func, eval_str=True)  # typer reads it as it stands
        own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        func.__signature__ = sig.replace(parameters=[*own, *(p for g in groups for p in g)])
        return func

    return wrap


def split(options: dict, group: tuple[inspect.Parameter, ...]) -> tuple[dict, dict]:
    """(the values of `group`'s options, the rest) of a command's `**kwargs`."""
    names = {p.name for p in group}
    return ({k: v for k, v in options.items() if k in names},
            {k: v for k, v in options.items() if k not in names})
