"""`kf train --note/--tag`: labels and the code's git commit stored in run.json and shown by
`kf runs`; a bad tag fails before any training."""

from __future__ import annotations

import json
import subprocess

from typer.testing import CliRunner

from kfold.cli import app
from kfold.runs import render_run_notes, runs_summary

runner = CliRunner()
ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def test_note_tags_and_commit_reach_run_json_and_kf_runs(workspace, monkeypatch):
    root = workspace.root
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "kfold.toml"], check=True)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", "ws"], check=True)
    sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.strip()
    r = runner.invoke(app, ["train", "-w", str(root), "--epochs", "1", "--batch-size", "16",
                            "--image-size", "32", "--name", "base",
                            "--note", "first try", "--tag", "baseline", "--tag", "cpu"])
    assert r.exit_code == 0, r.output
    meta = json.loads((root / "models" / "base" / "run.json").read_text())
    assert meta["note"] == "first try" and meta["tags"] == ["baseline", "cpu"]
    assert meta["git_commit"] == sha
    r = runner.invoke(app, ["runs", "--format", "json", "-w", str(root)])
    row = json.loads(r.stdout)[0]
    assert (row["note"], row["tags"], row["git"]) == ("first try", ["baseline", "cpu"], sha[:10])
    table = render_run_notes(runs_summary(workspace))
    assert [c.header for c in table.columns] == ["run", "note", "tags", "git"]


def test_a_bad_tag_fails_before_training(workspace):
    r = runner.invoke(app, ["train", "-w", str(workspace.root), "--epochs", "1",
                            "--name", "x", "--tag", "two words"])
    assert r.exit_code == 2 and "--tag 'two words'" in r.output
    assert not (workspace.root / "models" / "x").exists()
