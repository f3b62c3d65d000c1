"""The stacking case of `kf bench`: seconds per blender on a realistic-size stack."""

from __future__ import annotations

import tempfile
import time

from kfold.stack.blenders import list_blenders
from kfold.stack.run import stack_runs
from kfold.stack.synthetic import write_workspace


def bench_stacking(n_rows: int = 35000, n_runs: int = 10, seed: int = 0,
                   metas: list[str] | None = None) -> list[dict]:
    """Stack `n_runs` synthetic runs of `n_rows` OOF rows (5 folds) with every blender.

    Returns one dict per blender — blender, seconds (cross-fit on 5 folds + refit + writing
    its artifacts), oof_auc — and a final row "total" (including reading and checking the runs).
    """
    with tempfile.TemporaryDirectory(prefix="kf-bench-stack-") as root:
        ws = write_workspace(root, n_rows=n_rows, n_runs=n_runs, n_test=n_rows // 2, seed=seed)
        start = time.perf_counter()
        report = stack_runs(ws, metas=metas)
        total = time.perf_counter() - start
    rows = [{"blender": s.name.removeprefix("stack-"), "seconds": round(s.seconds, 3),
             "oof_auc": round(s.oof_auc, 5), "rows": n_rows, "runs": n_runs}
            for s in report.scores if s.kind == "stack"]
    order = list_blenders()
    rows.sort(key=lambda r: order.index(r["blender"]))
    rows.append({"blender": "total", "seconds": round(total, 3),
                 "oof_auc": round(max(r["oof_auc"] for r in rows), 5),
                 "rows": n_rows, "runs": n_runs})
    return rows
