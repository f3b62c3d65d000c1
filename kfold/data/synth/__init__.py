"""A synthetic stand-in for the Nexperia semiconductor defect contest.

`synthesize` writes grayscale JPEG chip photos in the contest's layout: a dark background,
a rectangular package body with printed marking, metal leads on its sides, bright noisy
artefacts near the image border, occasional glare, small shifts / rotations / exposure changes
and sensor noise. About `defect_rate` of the images carry one defect: a thin scratch (the hard
one), a chipped corner, a crack, a missing or bent lead, or contamination. Training defect
images get a bounding box in `defect_area.csv` (most of them, not all, as in the contest).

Guarantees:
- same arguments, same bytes (every image has its own seed derived from `seed` and its index;
  JPEG quality is fixed);
- a box encloses every pixel its defect changed (see `render`/`defect_box`);
- the folder appears complete or not at all (written beside `out`, renamed into place).

The modules, bottom up: `scene` (the nuisance parameters of one photo), `masks` (pixel layers
both the scene and the defects draw with), `kinds` (one class per defect kind: the extension
point), `raster` (render and JPEG), `plan` (ids, splits, labels, seeds), `writing` (the
folder) and `tasks` (the same photos labelled for multi-class, multi-label and regression
contests: `kf data synth --task`). Internals are small pure functions so that tests can draw one image with and without
its defect: `draw_scene` -> `draw_defect` -> `render`, `defect_box`.
"""

from kfold.data.synth.kinds import DEFECT_KINDS, KINDS, Defect, DefectKind, defect_box, draw_defect
from kfold.data.synth.plan import Item, draw_item, plan
from kfold.data.synth.raster import encode_jpeg, render
from kfold.data.synth.scene import Lead, Scene, draw_scene
from kfold.data.synth.writing import BAD, GOOD, SynthSummary, check_args, synthesize

__all__ = [
    "BAD", "DEFECT_KINDS", "GOOD", "KINDS", "Defect", "DefectKind", "Item", "Lead", "Scene",
    "SynthSummary", "check_args", "defect_box", "draw_defect", "draw_item", "draw_scene",
    "encode_jpeg", "plan", "render", "synthesize",
]
