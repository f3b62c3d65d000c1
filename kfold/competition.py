"""What the workspace knows about the competition's hidden test set: how many rows it has and
what share of them the public leaderboard scores. `kf shakeup` simulates with them and
`kf plan`'s outlook ranks candidates with them, so they live below both."""

from __future__ import annotations

from kfold import artifacts
from kfold.stats.shakeup import check_fraction
from kfold.submission import sample_submission
from kfold.tables import read_csv
from kfold.workspace import CONFIG_NAME, Workspace

ASSUMED_FRACTION = 0.3  # a common Kaggle public share, used only when nothing says otherwise


def resolve_public_fraction(ws: Workspace, value: float | None = None) -> tuple[float, str]:
    """The competition's public share of the test set and where it came from: the option,
    `public_fraction` in kfold.toml, data/solution.csv's Usage column, or an assumption."""
    if value is not None:
        return check_fraction(value), "--public-fraction"
    if ws.config.public_fraction is not None:  # checked in (0, 1) when kfold.toml was read
        return float(ws.config.public_fraction), CONFIG_NAME
    solution = ws.data_dir / "solution.csv"
    if solution.exists():
        usage = read_csv(solution, rows=False)
        if "Usage" in usage and len(usage):
            share = float((usage["Usage"] == "Public").mean())
            if 0 < share < 1:
                return share, "data/solution.csv"
    return ASSUMED_FRACTION, f"assumed (set public_fraction in {CONFIG_NAME})"


def test_size(ws: Workspace, runs: list[str], kind: str = "binary") -> tuple[int | None, str]:
    """Rows of the competition's test set: the runs' test predictions (of a `kind` task) or
    sample_submission."""
    for run in runs:
        if ws.test_path(run).exists():
            rows = len(artifacts.read_test_preds(ws.test_path(run), kind))
            return rows, f"oof/{run}.test.parquet"
    sample = sample_submission(ws)
    if sample is not None:
        return len(sample), "sample_submission.csv"
    return None, "the OOF rows (no test predictions found)"
