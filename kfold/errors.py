"""The one exception type a user's mistake raises, and the range checks of options.

The CLI turns a `KfError` into one line on stderr and exit code 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import math

SEED_MAX = 2**32 - 1  # numpy's and sklearn's seeds


class KfError(Exception):
    """A problem with the user's input or workspace, with the fix in the message."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """What one `error:` line quotes of a cause: the first line of its message, at most
    `limit` characters (a library's message can span pages), or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def check_whole(option: str, value, low: int, high: int) -> int:
    """`value` of `option` (named as the user typed it, e.g. --seed) is a whole number in
    [low, high]; KfError naming the option and the value otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise KfError(f"{option} must be a whole number from {low} to {high}, got {value!r}")
    return value


def check_number(option: str, value, *, low: float, high: float, low_open: bool = False,
                 high_open: bool = False) -> float:
    """`value` of `option` is a finite number in the interval from `low` to `high` (open at
    an end when asked); KfError naming the option, the interval and the value otherwise."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise KfError(f"{option} must be a number in {interval}, got {value!r}")
    return value
