"""`kf bench --case metrics`: every registry metric timed beside scikit-learn, same value."""

from kfold.bench.metrics import SKLEARN, bench_metric, make_data
from kfold.scoring import METRICS


def test_every_metric_agrees_with_sklearn_on_the_bench_data():
    data = make_data(n=2000)
    rows = [bench_metric(m, data) for m in METRICS.values()]
    assert [r["what"] for r in rows] == list(METRICS)
    assert all(r["same"] for r in rows if r["what"] in SKLEARN)
    assert all(r["boot20_s"] >= 0 and r["kf_s"] >= 0 for r in rows)
