"""`kf demo` chains every part end to end (tiny sizes here; the real demo is larger)."""

import pandas as pd
from typer.testing import CliRunner

from kfold.cli import app
from kfold.demo_report import END, START


def test_demo_runs_the_whole_loop_offline_and_writes_its_table(tmp_path):
    ws = tmp_path / "demo"
    readme = tmp_path / "README.md"
    readme.write_text(f"# kfold\n\n{START}\nold numbers\n{END}\n\nmore text\n")
    result = CliRunner().invoke(app, ["demo", "-w", str(ws), "--n-train", "60", "--n-test", "20",
                                      "--epochs", "1", "--readme", str(readme)])
    assert result.exit_code == 0, result.output
    table = (ws / "demo.md").read_text()
    assert table.startswith("| kf demo, data seed 0 | OOF AUC [95% DeLong] |")
    assert readme.read_text() == f"# kfold\n\n{START}\n{table}{END}\n\nmore text\n"
    assert "Best single run" in table and "best run" in table
    for step in ("small CNN", "retrained on 100%", "stacking", "Grad-CAM", "stand-in Kaggle",
                 "a code competition", "kf kernel test: predictions equal kf's",
                 "submitted kf-demo/simple-cnn-kernel version 1", "did the ensemble pay"):
        assert step in result.output, step
    assert (ws / "oof" / "simple-cnn.parquet").exists()
    assert (ws / "oof" / "simple-cnn.full.test.parquet").exists()
    assert (ws / "oof" / "stack-lightgbm.parquet").exists()
    assert (ws / "submissions" / "ledger.sqlite").exists()
    assert list((ws / "models").glob("*/explain/gradcam.png"))

    payoff_is_scored_as_the_stand_in_scores(ws)


def payoff_is_scored_as_the_stand_in_scores(root):
    """Best single run vs best stack: their files scored on the stand-in's public and
    private ids, the same numbers its server reports for an upload."""
    from kfold.demo import ensemble_payoff
    from kfold.kaggle.sandbox.scoring import Scorer, load_solution
    from kfold.stack import stack_runs
    from kfold.workspace import Workspace

    ws = Workspace.load(root)
    report = stack_runs(ws, write=False)
    single, stack = ensemble_payoff(ws, report)
    assert (single["name"], single["oof_auc"]) == (report.best_run.name, report.best_run.oof_auc)
    assert stack["name"].startswith("stack-")
    assert stack["oof_auc"] == max(s.oof_auc for s in report.scores if s.kind == "stack")
    solution = load_solution(ws.data_dir / "solution.csv")
    for row in (single, stack):
        content = ws.submission_path(row["name"]).read_bytes()
        assert (row["public"], row["private"]) == Scorer().score(content, solution)


def test_an_earlier_demo_of_another_fold_count_is_named_not_mixed(tmp_path):
    ws = tmp_path / "demo"
    ws.mkdir()
    (ws / "folds.csv").write_text("id,target,fold\n" + "".join(
        f"i{k},{k % 2},{k % 5}\n" for k in range(20)))
    result = CliRunner().invoke(app, ["demo", "-w", str(ws)])
    assert result.exit_code == 2
    assert "earlier demo's 5-fold split" in result.output
    assert sorted(p.name for p in ws.iterdir()) == ["folds.csv"]  # nothing else written


def test_a_demo_workspace_of_another_data_seed_is_not_resumed(tmp_path):
    ws = tmp_path / "demo"
    (ws / "data").mkdir(parents=True)
    (ws / "demo.json").write_text('{"seed": 0}')
    result = CliRunner().invoke(app, ["demo", "-w", str(ws), "--seed", "1"])
    assert result.exit_code == 2
    assert "earlier demo's data of seed 0" in result.output


def test_a_readme_without_the_table_markers_stops_the_demo_before_it_starts(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    result = CliRunner().invoke(app, ["demo", "-w", str(tmp_path / "demo"), "--readme",
                                      str(readme)])
    assert result.exit_code == 2 and "no demo table between" in result.output
    assert not (tmp_path / "demo").exists() and readme.read_text() == "# no markers\n"


def test_the_task_demo_stacks_and_submits_a_multiclass_contest_in_log_loss(tmp_path):
    ws = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "-w", str(ws), "--task", "multiclass",
                                      "--n-train", "60", "--n-test", "20", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    table = (ws / "demo.md").read_text()
    assert table.startswith("| kf demo --task multiclass, data seed 0 | OOF log loss ↓ "
                            "[95% bootstrap] |")
    assert "AUC" not in table and "Best single run" in table
    for step in ("synthetic chips, multiclass", "stacking in the contest's metric",
                 "stand-in Kaggle", "did the ensemble pay"):
        assert step in result.output, step
    header = (ws / "oof" / "stack-logreg.parquet")
    assert header.exists() and (ws / "submissions" / "ledger.sqlite").exists()
    columns = pd.read_csv(ws / "submissions" / "stack-mean.csv", nrows=0).columns.tolist()
    assert columns == pd.read_csv(ws / "data" / "sample_submission.csv", nrows=0).columns.tolist()


def test_the_task_demo_refuses_an_unknown_task_and_the_readme_table(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(app, ["demo", "-w", str(tmp_path / "a"), "--task", "ranking"])
    assert bad.exit_code == 2 and "--task 'ranking': choose binary, multiclass" in bad.output
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    both = runner.invoke(app, ["demo", "-w", str(tmp_path / "b"), "--task", "regression",
                               "--readme", str(readme)])
    assert both.exit_code == 2 and "--readme takes the binary demo's table" in both.output
    few = runner.invoke(app, ["demo", "-w", str(tmp_path / "c"), "--task", "multiclass",
                              "--n-train", "12", "--n-test", "10"])
    assert few.exit_code == 2 and "too few for 6 classes" in few.output
    assert not any((tmp_path / d).exists() for d in "abc")
