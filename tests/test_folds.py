"""Folds: stratified, deterministic, shared; a different split is refused."""

import numpy as np
import pandas as pd
import pytest

from kfold import artifacts
from kfold.errors import KfError
from kfold.folds import check_groups, make_folds, plan_folds, write_folds


def frame(n=100, pos=20):
    return pd.DataFrame({"id": [f"img{i:03d}" for i in range(n)],
                         "target": [1] * pos + [0] * (n - pos)})


def test_folds_preserve_class_balance():
    folds = make_folds(frame(), 5, seed=1)
    assert folds.groupby("fold")["target"].sum().tolist() == [4] * 5
    assert folds.groupby("fold").size().tolist() == [20] * 5


def test_same_seed_same_folds_whatever_the_row_order():
    a = make_folds(frame(), 5, seed=1)
    b = make_folds(frame().sample(frac=1, random_state=3), 5, seed=1)
    assert artifacts.folds_fingerprint(a) == artifacts.folds_fingerprint(b)
    assert artifacts.folds_fingerprint(make_folds(frame(), 5, seed=2)) != \
        artifacts.folds_fingerprint(a)


@pytest.mark.parametrize("n, pos, k, message", [
    (100, 20, 1, "--folds 1 must be a whole number from 2 to 100"),
    (100, 3, 5, "smallest class has 3"),
    (4, 2, 5, "use fewer folds"),
])
def test_too_few_images_for_the_folds(n, pos, k, message):
    with pytest.raises(KfError, match=message):
        make_folds(frame(n, pos), k, seed=0)


def test_another_split_is_refused_unless_forced(workspace):
    train = frame()
    write_folds(workspace, train, 5, seed=1)
    with pytest.raises(KfError, match="another split"):
        write_folds(workspace, train, 5, seed=2)
    forced = write_folds(workspace, train, 5, seed=2, force=True)
    assert artifacts.folds_fingerprint(artifacts.read_folds(workspace.folds_path)) == \
        artifacts.folds_fingerprint(forced)


def test_plan_folds_refuses_folds_of_other_data_k_or_seed(workspace):
    write_folds(workspace, frame(), 5, seed=1)
    with pytest.raises(KfError, match="does not match the training images"):
        plan_folds(workspace, frame(90, 20), 5, seed=1)
    with pytest.raises(KfError, match="has 5 folds but --folds 3"):
        plan_folds(workspace, frame(), 3, seed=1)
    flipped = frame().assign(target=lambda d: 1 - d["target"])
    with pytest.raises(KfError, match="other labels"):
        plan_folds(workspace, flipped, 5, seed=1)
    with pytest.raises(KfError, match="not made with --seed 7"):
        plan_folds(workspace, frame(), 5, seed=7)


def test_plan_folds_reads_a_matching_split_and_plans_a_missing_one(workspace):
    folds, new = plan_folds(workspace, frame(), 5, seed=1)
    assert new and not workspace.folds_path.exists()
    write_folds(workspace, frame(), 5, seed=1)
    again, new = plan_folds(workspace, frame(), 5, seed=1)
    assert not new
    assert artifacts.folds_fingerprint(again) == artifacts.folds_fingerprint(folds)


def test_multiclass_folds_keep_every_class_in_every_fold_and_name_a_small_class():
    labels = np.repeat([0, 1, 2], [60, 25, 10])
    train = pd.DataFrame({"id": [f"i{k:03d}" for k in range(95)], "target": labels})
    folds = make_folds(train, 5, seed=0, kind="multiclass", classes=("a", "b", "c"))
    assert (folds.groupby("fold")["target"].nunique() == 3).all()
    with pytest.raises(KfError, match=r"'c' has 3\).*use fewer folds"):
        make_folds(train.iloc[:88], 5, seed=0, kind="multiclass", classes=("a", "b", "c"))


def test_multilabel_folds_balance_every_label():
    rng = np.random.default_rng(0)
    has = rng.random((300, 4)) < [0.5, 0.2, 0.1, 0.05]
    labels = [" ".join(n for n, h in zip("abcd", row) if h) for row in has]
    train = pd.DataFrame({"id": [f"i{k:03d}" for k in range(300)], "target": labels})
    folds = make_folds(train, 5, seed=0, kind="multilabel", classes=tuple("abcd"))
    per_fold = np.array([[sum(lab in t.split() for t in rows["target"]) for lab in "abcd"]
                         for _, rows in folds.groupby("fold")])
    assert (per_fold.max(axis=0) - per_fold.min(axis=0) <= 2).all()  # iterative stratification


def test_regression_folds_spread_the_target():
    target = np.random.default_rng(1).exponential(size=200)
    train = pd.DataFrame({"id": [f"i{k:03d}" for k in range(200)], "target": target})
    folds = make_folds(train, 4, seed=0, kind="regression", classes=())
    means = folds.groupby("fold")["target"].mean()
    assert means.max() - means.min() < 0.25 * target.mean()


def test_groups_never_span_two_folds_and_a_split_group_is_refused(workspace):
    rng = np.random.default_rng(2)
    train = frame().assign(group=[f"p{g}" for g in rng.integers(0, 20, 100)])
    folds = make_folds(train, 4, seed=0)
    by_group = folds.assign(group=train.set_index("id").loc[folds["id"], "group"].to_numpy())
    assert (by_group.groupby("group")["fold"].nunique() == 1).all()
    broken = folds.assign(fold=np.arange(100) % 4)  # round robin: groups cross folds
    with pytest.raises(KfError, match="splits .* group\\(s\\) of group_column"):
        check_groups(broken, train, "folds.csv")
