"""Where a result came from: the git commit of the code, when the workspace is in a repository.

Recorded in run.json so an experiment can be traced back to (and rerun from) the code that
made it; `+dirty` marks uncommitted changes, which the commit alone would not reproduce.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def git_commit(path: str | Path) -> str | None:
    """`<sha>` or `<sha>+dirty` of the repository holding `path`; None outside one (or
    without git)."""
    git = shutil.which("git")
    if git is None:
        return None

    def run(*args: str) -> str | None:
        try:
            out = subprocess.run([git, "-C", str(path), *args], capture_output=True, text=True,
                                 timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha = run("rev-parse", "HEAD")
    if not sha:
        return None
    dirty = run("status", "--porcelain", "--untracked-files=no")
    return sha + ("+dirty" if dirty else "")
