"""`kf repro`: every row is a real run in the workspace, the table and chart are written, and
each ordering is decided from the numbers in the table."""

import re

from typer.testing import CliRunner

from kfold import artifacts
from kfold.cli import app
from kfold.repro import ROWS, Ordering, Result, check_orderings
from kfold.stats import AucInterval

TINY = ["--small-size", "16", "--small-epochs", "1", "--image-size", "32", "--head-epochs",
        "1", "--finetune-epochs", "1", "--crop", "4"]


def test_kf_repro_end_to_end_at_tiny_sizes(workspace):
    res = CliRunner().invoke(app, ["repro", "-w", str(workspace.root), *TINY])
    assert res.exit_code == 0, res.output
    table = (workspace.root / "repro" / "table.md").read_text()
    assert (workspace.root / "repro" / "auc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [line.split(" | ") for line in table.splitlines()
            if line.startswith("| ") and not line.startswith(("| row", "|---"))]
    assert [r[0].removeprefix("| ") for r in rows] == [row.label for row in ROWS]
    assert [r[2] for r in rows] == [row.original or "—" for row in ROWS]
    interval = re.compile(r"(\d\.\d{4}) \[(\d\.\d{4}), (\d\.\d{4})\]")
    oof = {}
    for row, cells in zip(ROWS, rows):
        match = interval.fullmatch(cells[3])
        if row.key == "full":
            assert match is None and re.fullmatch(r"\d\.\d{4}", cells[4])  # test AUC only
            continue
        auc, low, high = (float(v) for v in match.groups())
        assert low <= auc <= high
        oof[row.key] = auc
    for key in ("raw", "prep1", "prep2", "random", "head", "finetune"):
        meta = artifacts.read_run(workspace, f"repro-{key}")  # an ordinary run
        assert round(meta.oof_auc, 4) == oof[key]
    assert artifacts.read_run(workspace, "repro-finetune").retrain.epochs >= 1
    assert artifacts.read_run(workspace, "repro-head").config.train_mode == "head"
    assert artifacts.read_run(workspace, "repro-prep2").config.binarize == 0.5
    # The orderings are the numbers' verdicts, not asserted outcomes.
    first = next(line for line in table.splitlines() if "preprocessing I ≥ raw" in line)
    holds = oof["prep1"] >= oof["raw"] > oof["prep2"]
    assert first.startswith("- ✓" if holds else "- ✗")
    assert f"{oof['prep1']:.4f} ≥ {oof['raw']:.4f} > {oof['prep2']:.4f}" in first
    assert "100% retrain ≥ a fold model alone" in table and "best stack ≥ best single" in table
    assert first.removeprefix("- ") in res.output


def _result(key: str, oof: float | None, test: float | None = None,
            folds: tuple[float, ...] = ()) -> Result:
    row = next(r for r in ROWS if r.key == key)
    interval = None if oof is None else AucInterval(oof, 0.01, oof - 0.02, oof + 0.02, 10, 40)
    return Result(row, f"repro-{key}", interval, test, list(folds))


def test_orderings_follow_the_numbers():
    numbers = {"raw": 0.80, "prep1": 0.85, "prep2": 0.70, "random": 0.6, "head": 0.75,
               "finetune": 0.9, "stack": 0.91}
    by_key = {k: _result(k, v, 0.88, (0.84, 0.86)) for k, v in numbers.items()}
    by_key["full"] = _result("full", None, 0.90)
    verdicts = [o.holds for o in check_orderings(by_key)]
    assert verdicts == [True, True, True, True, True]
    by_key["prep2"] = _result("prep2", 0.81)  # binarising no longer hurts
    by_key["full"] = _result("full", None, 0.87)  # beats each fold model, not their mean
    by_key["stack"] = _result("stack", 0.85)
    orderings = check_orderings(by_key)
    assert [o.holds for o in orderings] == [False, True, True, False, False]
    assert orderings[0].text == ("✗ preprocessing I ≥ raw > preprocessing II (OOF AUC): "
                                 "0.8500 ≥ 0.8000 > 0.8100")
    assert orderings[2].numbers == "0.8700 ≥ 0.8500 (fold models: 0.8400, 0.8600)"
    assert orderings[3].numbers == "0.8700 ≥ 0.8800"
    assert "repro-finetune" in orderings[4].claim


def test_without_test_labels_the_retrain_ordering_is_left_out():
    by_key = {k: _result(k, 0.7) for k in ("raw", "prep1", "prep2", "random", "head",
                                            "finetune", "stack")}
    by_key["full"] = _result("full", None)
    claims = [o.claim for o in check_orderings(by_key)]
    assert len(claims) == 3 and not any("100%" in c for c in claims)
    assert isinstance(check_orderings(by_key)[0], Ordering)
