"""Every setting of a run or a workspace, declared once: name, type, range, default, help, and
where the user sets it (`kf train`'s option, a grid file's key, `kfold.toml`).

The `kf train` / `kf grid` options, the kfold.toml check, the grid-file check and the
fields and validation of `TrainConfig` and `workspace.Config` are all derived from `SETTINGS`,
so they cannot disagree. Adding a setting is one row here (and, for a training setting, the
code that uses `cfg.<name>`). A bad value is named as the user wrote it, wherever that was:

    --image-size 3000 must be a whole number from 8 to 2048
    kfold.toml: image_size = 3000 must be a whole number from 8 to 2048
    grid.toml [[run]] 'b': lr = -1 must be a number in (0, 10]
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from kfold.errors import SEED_MAX, KfError

TRAIN, TOML = "train", "toml"  # where a setting is set: kf train / grid files, kfold.toml


@dataclass(frozen=True)
class Setting:
    """One setting. `low`/`high` bound a number (open ends when asked); `choices` or `pattern`
    (with `spelled`, how the rule reads) restrict a text; `optional`: None is allowed, and
    means a rule elsewhere picks the value (its help says which). `help` may name `{rule}`."""

    name: str
    kind: type
    default: object
    help: str
    where: tuple[str, ...] = (TRAIN,)
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    pattern: str | None = None
    spelled: str = ""
    optional: bool = False
    option: str = ""  # kf train's option; default: --<name with dashes>
    short: str = ""  # kf train's short option, e.g. -k

    @property
    def cli(self) -> str:
        """The option as the user types it."""
        return self.option or "--" + self.name.replace("_", "-")

    @property
    def described(self) -> str:
        """The help text, its `{rule}` spelled out."""
        return self.help.format(rule=self.rule)

    @property
    def annotation(self) -> object:
        """The field's type, as a dataclass and typer read it."""
        return self.kind | None if self.optional else self.kind

    @property
    def rule(self) -> str:
        """What a value must be, in words."""
        if self.choices:
            shown = [str(c) for c in self.choices]
            return ", ".join(shown[:-1]) + " or " + shown[-1]
        if self.pattern:
            return self.spelled
        if self.kind is str:
            return "a non-empty text"
        if self.kind is int:
            return f"a whole number from {self.low}" + (
                f" to {self.high}" if self.high is not None else "")
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"a number in {left}{self.low:g}, {self.high:g}{right}"

    def check(self, value: object, shown: str) -> None:
        """KfError `<shown> must be <rule>` unless `value` fits; `shown` names the value where
        the user wrote it (`--lr -1`, `kfold.toml: lr = -1`)."""
        if not (value is None and self.optional) and not self._fits(value):
            raise KfError(f"{shown} must be {self.rule}")

    def _fits(self, value: object) -> bool:
        if isinstance(value, bool):
            return False
        if self.choices:
            return value in self.choices and isinstance(value, self.kind)
        if self.kind is str:
            return isinstance(value, str) and bool(value.strip()) and (
                self.pattern is None or re.fullmatch(self.pattern, value) is not None)
        if not isinstance(value, int if self.kind is int else int | float):
            return False
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else
                                      value <= self.high)
        return above and below

    def keys(self) -> set[str]:
        """The spellings a grid file may use: the name, dashed, and the option's word."""
        word = self.cli.removeprefix("--")
        return {self.name, self.name.replace("_", "-"), word, word.replace("-", "_")}


_BIG = 100_000  # the highest epoch-like count: far above any run, stops a typo's runaway
_ONE_OF = ("none", "flip", "d4")
_WORKSPACE = (TOML,)
# kfold.scoring.TASKS with "auto" (scoring sits above this module; a test keeps them equal)
TASK_CHOICES = ("auto", "binary", "multiclass", "multilabel", "regression")
_BOTH = (TRAIN, TOML)

SETTINGS = (
    Setting("competition", str, "nexperia-synth", "The Kaggle competition's slug.", _WORKSPACE),
    Setting("data_dir", str, "data", "The data folder, relative to the workspace.", _WORKSPACE),
    Setting("id_column", str, "id", "The id column of train.csv.", _WORKSPACE),
    Setting("target_column", str, "label", "The label column of train.csv.", _WORKSPACE),
    Setting("positive_class", str, "bad_1", "The label value of a defect.", _WORKSPACE),
    Setting("model", str, "simple-cnn",
            "Model: kf's registry or any timm name (`kf models`)."),
    Setting("backend", str, "torch", "Framework that trains it."),
    Setting("n_folds", int, 5, "Number of folds.", _BOTH, low=2, high=100,
            option="--folds", short="-k"),
    Setting("seed", int, 42, "Random seed: the fold split's, and the model's unless "
            "--model-seed is given.", _BOTH, low=0, high=SEED_MAX),
    Setting("model_seed", int, None, "Seed of the weights and batch order only (default: "
            "--seed): seed averaging on the same folds.", low=0, high=SEED_MAX, optional=True),
    Setting("image_size", int, 64, "Input side in px.", _BOTH, low=8, high=2048),
    Setting("epochs", int, None, "Maximum epochs per fold (default: 20; 10 with --train-mode "
            "head).", low=1, high=_BIG, optional=True),
    Setting("batch_size", int, 64, "Batch size.", low=1, high=65_536),
    Setting("lr", float, None, "Peak learning rate, cosine decay (default: 1e-3; 1e-2 with "
            "--train-mode head).", low=0, low_open=True, high=10, optional=True),
    Setting("weight_decay", float, 1e-4, "AdamW weight decay.", low=0, high=10),
    Setting("patience", int, 5, "Epochs without validation-AUC gain before stopping.",
            low=1, high=_BIG),
    Setting("dropout", float, 0.3, "Dropout before the dense head.", low=0, high=1,
            high_open=True),
    Setting("crop", int, 0, "Border pixels cropped before resizing (original: ~20).",
            low=0, high=_BIG),
    Setting("threshold", float, None, "Method I: pixels darker than this (0-1) set to 0.",
            low=0, high=1, optional=True),
    Setting("binarize", float, None, "Method II: binarise at this level (0-1).",
            low=0, high=1, optional=True),
    Setting("pos_weight", float, None, "BCE weight of defects (no resampling).",
            low=0, low_open=True, high=1e4, optional=True),
    Setting("augment", str, "d4", "Batch augmentation: {rule}.", choices=_ONE_OF),
    Setting("tta", str, "none", "Test-time augmentation: {rule}.", choices=_ONE_OF),
    Setting("weights", str, "none", "Initial weights: none, imagenet (download or warm cache) "
            "or a local file.", spelled="none, imagenet or a file path", pattern=r".+"),
    Setting("train_mode", str, "finetune", "head (backbone and its batch-norm frozen) or "
            "finetune (everything).", choices=("head", "finetune")),
    Setting("unfreeze_after", int, None, "Train the head alone for N epochs, then everything.",
            low=0, high=_BIG, optional=True),
    Setting("backbone_lr_scale", float, 1.0, "Finetune: backbone lr = lr x this.",
            low=0, high=1),
    Setting("in_chans", int, None, "Grayscale input: 1 (first conv adapted, default) or 3 "
            "(channel repeated).", choices=(1, 3), optional=True),
    Setting("collapse_epochs", int, 3, "Stop a fold after this many collapsed epochs "
            "(constant predictions or val AUC <= 0.5).", low=1, high=_BIG),
    # The training recipe of timm's train.py (docs/recipe.md): off by default.
    Setting("ema", float, None, "Weight EMA decay (timm's ModelEmaV3), e.g. 0.999: the "
            "averaged weights are validated, checkpointed and predicted with.",
            low=0, high=1, low_open=True, high_open=True, optional=True),
    Setting("mixup", float, 0.0, "Mixup alpha (timm's Mixup, soft-target loss; 0: off).",
            low=0, high=10),
    Setting("cutmix", float, 0.0, "CutMix alpha (timm's Mixup; 0: off).", low=0, high=10),
    Setting("mix_prob", float, 1.0, "Share of batches mixed when --mixup or --cutmix is on.",
            low=0, high=1),
    Setting("label_smoothing", float, 0.0, "Targets pulled towards 0.5: y (1 - s) + s / 2.",
            low=0, high=0.5, high_open=True),
    Setting("regression_loss", str, "mse", "Loss of a regression target: {rule} (smooth-l1 "
            "is gentler on outliers).", choices=("mse", "smooth-l1")),
    Setting("warmup_epochs", int, 0, "Epochs of linear learning-rate warm-up before the "
            "cosine decay.", low=0, high=_BIG),
    Setting("grad_accum", int, 1, "Batches whose gradients add up to one step (the "
            "effective batch of a larger GPU).", low=1, high=1024),
    Setting("drop_path", float, 0.0, "Stochastic depth rate (timm models that have it).",
            low=0, high=1, high_open=True),
    Setting("device", str, "auto", "Where to train: {rule}.", pattern=r"auto|cpu|cuda(:\d+)?|mps",
            spelled="auto, cpu, cuda, cuda:N or mps"),
    Setting("daily_limit", int, 5, "Kaggle submissions a day.", _WORKSPACE, low=1),
    Setting("public_fraction", float, None, "Share of the test set Kaggle scores publicly "
            "(kf shakeup, kf plan); unset: data/solution.csv's Usage column when there is "
            "one, else 0.3.", _WORKSPACE, low=0, high=1, low_open=True, high_open=True,
            optional=True),
    Setting("tracking_uri", str, None, "MLflow: a folder (relative to the workspace) or a URL.",
            _WORKSPACE, optional=True),
    Setting("task", str, "auto", "The contest kind: {rule} (auto: read from the data; kf data "
            "check says why).", _WORKSPACE, choices=TASK_CHOICES),
    Setting("metric", str, None, "The contest's metric, by its name in kfold.scoring (unset: "
            "the task's natural one; an unknown name gets the close ones suggested).",
            _WORKSPACE, optional=True),
    Setting("group_column", str, None, "A train.csv column whose groups (e.g. patients) stay "
            "in one fold.", _WORKSPACE, optional=True),
)
SETTING = {s.name: s for s in SETTINGS}


def settings_for(where: str) -> tuple[Setting, ...]:
    """The settings set in `where` (TRAIN or TOML), in table order."""
    return tuple(s for s in SETTINGS if where in s.where)


def fields_from(where: str):
    """Class decorator: a frozen dataclass whose fields are the settings of `where`, with
    their types and defaults (the class body holds only methods)."""

    def build(cls):
        cls.__annotations__ = {s.name: s.annotation for s in settings_for(where)}
        for s in settings_for(where):
            setattr(cls, s.name, s.default)
        return dataclass(frozen=True)(cls)

    return build


def check_fields(obj: object, shown=lambda s, v: f"{s.name} = {v!r}") -> None:
    """Every field of a settings dataclass against its row; `shown(setting, value)` names a
    bad value (default: `name = value`, as in config.json)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        SETTING[f.name].check(value, shown(SETTING[f.name], value))


def check_option(name: str, value: object) -> object:
    """A value given on the command line for setting `name`, named as the user typed it."""
    SETTING[name].check(value, f"{SETTING[name].cli} {value}")
    return value
