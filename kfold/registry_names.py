"""The names kf's registries hold, importable without the frameworks behind them.

Help texts list these (`kf --help` and every other `kf` start import no torch, timm or
scikit-learn just to print a name); tests/test_registry_names.py checks that each tuple
holds exactly what its registry registers, so a help text cannot drift from what the
command accepts. Adding a model, blender or heatmap method adds its name here too.
"""

from __future__ import annotations

# kfold.nets: the `@register_model` functions (any timm name works besides these).
MODELS = ("simple-cnn", "efficientnet-lite0", "vgg16", "resnet50")
# kfold.stack.blenders: the `@register` classes, in registration order.
BLENDERS = ("mean", "rank", "logreg", "lightgbm", "hillclimb")
# kfold.stack.task_blenders: the blenders of a task other than binary AUC that only it has.
REGRESSION_BLENDERS = ("linear",)
# kfold.backends.torch.cam.METHODS: the torch backend's heatmap methods, the default first.
HEATMAP_METHODS = ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam",
                   "eigengradcam", "scorecam")


def spelled(names: tuple[str, ...], last: str = "or") -> str:
    """`a, b or c`: names as a help text lists them."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"
