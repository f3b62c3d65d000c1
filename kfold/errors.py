"""The one exception type a user's mistake raises.

The CLI turns a `KfError` into one line on stderr and exit code 2; anything else is a bug
and keeps its traceback.
"""


class KfError(Exception):
    """A problem with the user's input or workspace, with the fix in the message."""
