"""`kf demo` chains every part end to end (tiny sizes here; the real demo is larger)."""

from typer.testing import CliRunner

from kfold.cli import app


def test_demo_runs_the_whole_loop_offline(tmp_path):
    ws = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "-w", str(ws), "--n-train", "60", "--n-test", "20",
                                      "--epochs", "1"])
    assert result.exit_code == 0, result.output
    for step in ("small CNN", "retrained on 100%", "stacking", "Grad-CAM", "stand-in Kaggle"):
        assert step in result.output, step
    assert (ws / "oof" / "simple-cnn.parquet").exists()
    assert (ws / "oof" / "efficientnet-lite0.full.test.parquet").exists()
    assert (ws / "oof" / "stack-lightgbm.parquet").exists()
    assert (ws / "submissions" / "ledger.sqlite").exists()
    assert list((ws / "models").glob("*/explain/gradcam.png"))
