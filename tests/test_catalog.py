"""`kf models`: registry first, then timm, each by parameter count, counted on `meta`."""

from __future__ import annotations

from kfold.nets import create_model, list_models
from kfold.nets.catalog import catalog, param_count


def test_param_count_matches_a_real_build():
    real = sum(p.numel() for p in create_model("simple-cnn").parameters())
    assert param_count("simple-cnn") == real > 0


def test_registry_first_then_timm_each_smallest_first():
    entries, more = catalog("*", limit=5)
    registered = set(list_models("*"))
    kinds = [e.name in registered for e in entries]
    assert kinds == sorted(kinds, reverse=True) and sum(not k for k in kinds) == 5 and more > 0
    for group in (True, False):
        counts = [e.params for e, k in zip(entries, kinds) if k == group and e.params is not None]
        assert counts == sorted(counts)
    assert next(e for e in entries if e.name == "resnet50").params_text == "23.50M"


def test_popular_timm_models_come_before_the_alphabet():
    from kfold.nets.catalog import POPULAR

    entries, more = catalog("resnet*", limit=7)
    names = [e.name for e in entries if e.source.startswith("timm") and e.name != "resnet50"]
    popular = [n for n in names if n in POPULAR]
    assert popular == names[:len(popular)] and {"resnet18", "resnet34"} <= set(popular)
    assert entries[-1].source == "timm" and more > 0  # then the family's other names
