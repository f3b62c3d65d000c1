"""The git commit recorded with a run: clean, dirty, or no repository at all."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kfold.provenance import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(path, *args):
    subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                        "HOME": str(path), "PATH": "/usr/bin:/bin:/usr/local/bin"})


def test_commit_dirty_and_outside_a_repository(tmp_path):
    assert git_commit(tmp_path) is None
    _git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("x = 1\n")
    _git(tmp_path, "add", "train.py")
    _git(tmp_path, "commit", "-q", "-m", "first")
    sha = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert git_commit(tmp_path) == sha
    (tmp_path / "sub").mkdir()
    assert git_commit(tmp_path / "sub") == sha  # a workspace inside the repository
    (tmp_path / "train.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == sha + "+dirty"
