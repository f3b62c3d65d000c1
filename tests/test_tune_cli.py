"""`kf tune` from the command line: a real (tiny) search whose finished trials stack, and one
`error:` line with nothing written for each bad input."""

import pytest

from kfold.scoring import get_metric
from kfold.tune.space import read_space
from kfold.tune.study import open_study
from tests.bad_input import BadInput, check, run_kf

SPACE = """[defaults]
model = "simple-cnn"
epochs = 1
batch-size = 16
[space]
lr = { low = 1e-3, high = 1e-2, log = true }
augment = ["none", "flip"]
"""


def write_space(ws, text=SPACE, name="s.toml"):
    (ws.root / name).write_text(text)
    return str(ws.root / name)


def test_tune_then_stack_the_trials(workspace):
    result = run_kf(["tune", write_space(workspace), "--trials", "2", "--sampler-seed", "0"],
                    workspace)
    assert result.exit_code == 0, result.output
    assert "study s: 2 trials (2 finished, 0 pruned)" in result.output
    assert "best: kf train --model simple-cnn --epochs 1 --batch-size 16 --lr " in result.output
    assert (workspace.tune_dir / "s.history.png").exists()
    assert (workspace.tune_dir / "s.journal").exists()
    stacked = run_kf(["stack", "--runs", "s-*", "--blender", "mean"], workspace)
    assert stacked.exit_code == 0, stacked.output
    assert "Stack of 2 runs" in stacked.output
    again = run_kf(["tune", write_space(workspace), "--trials", "2"], workspace)
    assert again.exit_code == 0 and "2 trials (2 finished" in again.output  # nothing to add


def other_split_study(ws):
    write_space(ws)
    open_study(ws, "s", read_space(ws.root / "s.toml", ws), "0123456789abcdef",
               get_metric("auc"))


BAD = [
    BadInput("unknown-option", ["tune", "{ws}/bad.toml"], "[space]: unknown option 'lrr'",
             damage=lambda ws: write_space(ws, "[space]\nlrr = [0.1]\n", "bad.toml")),
    BadInput("low-not-below-high", ["tune", "{ws}/bad.toml"], "low (0.01) must be below high",
             damage=lambda ws: write_space(ws, "[space]\nlr = { low = 1e-2, high = 1e-3 }\n",
                                           "bad.toml")),
    BadInput("log-through-zero", ["tune", "{ws}/bad.toml"], "a log range must stay above 0",
             damage=lambda ws: write_space(
                 ws, "[space]\ndropout = { low = 0.0, high = 0.5, log = true }\n", "bad.toml")),
    BadInput("choice-kf-train-refuses", ["tune", "{ws}/bad.toml"],
             "[space]: tta = 'spin' must be none, flip or d4",
             damage=lambda ws: write_space(ws, '[space]\ntta = ["flip", "spin"]\n', "bad.toml")),
    BadInput("study-of-another-split", ["tune", "{ws}/s.toml"],
             "study 's' was run on another fold split", damage=other_split_study),
    BadInput("no-space-file", ["tune", "{ws}/none.toml"], "space file"),
    BadInput("negative-trials", ["tune", "{ws}/s.toml", "--trials", "-1"], "--trials",
             damage=write_space),
    BadInput("bad-timeout", ["tune", "{ws}/s.toml", "--timeout", "soon"],
             "--timeout must be a duration", damage=write_space),
    BadInput("bad-prune-p", ["tune", "{ws}/s.toml", "--prune-p", "1.5"],
             "--prune-p must be between 0 and 1", damage=write_space),
    BadInput("bad-study-name", ["tune", "{ws}/s.toml", "--study", "../x"],
             "study name '../x'", damage=write_space),
]


@pytest.mark.parametrize("row", BAD, ids=str)
def test_bad_input_is_one_error_line_and_nothing_trained(row, workspace):
    check(row, workspace)


def test_a_multiclass_study_minimises_the_contest_log_loss(tmp_path):
    from kfold import artifacts
    from kfold.workspace import Workspace

    ws = Workspace.init(tmp_path / "mc", competition="nexperia-synth")
    made = run_kf(["data", "synth", "--task", "multiclass", "--n-train", "60", "--n-test", "12",
                   "--size", "32"], ws)
    assert made.exit_code == 0, made.output
    space = SPACE.replace("[defaults]\n", "[defaults]\nimage-size = 32\nfolds = 2\n")
    result = run_kf(["tune", write_space(ws, space), "--trials", "2", "--sampler-seed", "0",
                     "--no-prune"], ws)
    assert result.exit_code == 0, result.output
    assert "OOF log loss ↓" in result.output and "AUC" not in result.output
    scores = {run: artifacts.read_run(ws, run).oof_auc for run in ("s-t0", "s-t1")}
    best = min(scores, key=scores.get)  # lower log loss is better
    assert result.output.index(best) < result.output.index(max(scores, key=scores.get))
    assert f"--name {best}-again" in result.output

    (ws.root / "kfold.toml").write_text((ws.root / "kfold.toml").read_text()
                                        + 'metric = "accuracy"\n')
    again = run_kf(["tune", write_space(ws, space), "--trials", "3"], ws)
    assert again.exit_code == 2
    assert "study 's' optimised log loss, and the contest is now scored by accuracy" \
        in again.output
    assert not ws.run_json("s-t2").exists()
