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

Internals are small pure functions so that tests can draw one image with and without its
defect: `draw_scene` -> `draw_defect` -> `render`, `defect_box`. Each defect kind is one small class
(`Scratch`, `Chip`, ...) whose `sample` draws its parameters and `paint` applies them.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from kfold.errors import SEED_MAX, KfError, check_number, check_whole

GOOD, BAD = "good_0", "bad_1"
JPEG_QUALITY = 92
BORDER = 20 / 267  # artefact band, as a share of the image side (the original cropped ~20 px)
_BOX_PAD = 2  # pixels added around a defect's extent (bilinear warp spreads one pixel)

Box = tuple[int, int, int, int]


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Lead:
    """One metal lead in the canonical (unrotated) frame: a rectangle from its base outwards."""

    side: str  # "top" | "bottom" | "left" | "right"
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Scene:
    """Everything about one defect-free chip photo; `render` turns it into pixels."""

    size: int
    background: float
    body: tuple[float, float, float, float]  # x0, y0, x1, y1 (canonical frame)
    body_level: float
    rim: float
    leads: tuple[Lead, ...]
    lead_level: float
    marking: tuple[str, ...]
    marking_box: tuple[float, float, float, float]
    marking_level: float
    angle: float  # degrees, counter-clockwise
    shift: tuple[float, float]
    gain: float
    offset: float
    noise_sigma: float
    glare: tuple[tuple[float, float, float, float, float], ...]  # cx, cy, rx, ry, amplitude
    border_sides: tuple[str, ...]
    seed: int  # texture, border artefacts and sensor noise


@dataclass(frozen=True)
class Defect:
    """One defect in the canonical frame. `extent` bounds every canonical pixel it changes."""

    kind: str
    extent: tuple[float, float, float, float]  # x0, y0, x1, y1 (canonical frame)
    params: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class SynthSummary:
    """What `synthesize` wrote; `console.print(summary)` shows it as a table."""

    path: str
    n_train: int
    n_test: int
    train_good: int
    train_bad: int
    test_good: int
    test_bad: int
    boxes: int
    flipped: int
    kinds: tuple[tuple[str, int], ...]
    size: int
    seed: int

    def __rich__(self):
        from kfold import views

        rows = [
            ("train", f"{self.n_train} ({GOOD} {self.train_good}, {BAD} {self.train_bad})"),
            ("test", f"{self.n_test} (good {self.test_good}, bad {self.test_bad})"),
            ("boxes (defect_area.csv)", self.boxes),
            ("labels flipped (noise)", self.flipped),
            ("defect kinds", ", ".join(f"{k} {n}" for k, n in self.kinds) or "-"),
            ("image", f"{self.size}x{self.size} grayscale JPEG, seed {self.seed}"),
        ]
        return views.table(f"synthetic dataset: {self.path}", [views.Col("", bold=True), ""],
                           rows, header=False)


# --------------------------------------------------------------------------- drawing params


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def draw_scene(rng: np.random.Generator, size: int, difficulty: float = 0.5) -> Scene:
    """Draw the nuisance parameters of one good chip photo.

    Every part is drawn from the one stream in a fixed order: reordering the draws would change
    every image of a seed (tests/test_synth.py holds their hashes).
    """
    s = size
    bw = rng.uniform(0.44, 0.58) * s
    bh = rng.uniform(0.30, 0.42) * s
    cx = s / 2 + rng.uniform(-0.03, 0.03) * s
    cy = s / 2 + rng.uniform(-0.03, 0.03) * s
    body = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
    leads = _draw_leads(rng, s, body, bw, bh)
    marking, marking_box = _draw_marking(rng, cx, cy, bw, bh)
    body_level = rng.uniform(70, 140)
    glare = _draw_glare(rng, s, body)
    border_sides = tuple(sd for sd in ("top", "bottom", "left", "right") if rng.random() < 0.45)

    return Scene(
        size=size,
        background=rng.uniform(8, 30),
        body=body,
        body_level=body_level,
        rim=rng.uniform(10, 35),
        leads=leads,
        lead_level=rng.uniform(150, 215),
        marking=marking,
        marking_box=marking_box,
        marking_level=rng.uniform(25, 55),
        angle=rng.uniform(-3.0, 3.0),
        shift=(rng.uniform(-0.04, 0.04) * s, rng.uniform(-0.04, 0.04) * s),
        gain=rng.uniform(0.85, 1.15),
        offset=rng.uniform(-12, 12),
        noise_sigma=rng.uniform(2.0, 3.5) + 2.5 * difficulty,
        glare=glare,
        border_sides=border_sides,
        seed=int(rng.integers(0, 2**63 - 1)),
    )


def _draw_leads(rng: np.random.Generator, s: int, body: tuple[float, float, float, float],
                bw: float, bh: float) -> tuple[Lead, ...]:
    """The package's leads: SOT23-like (2 leads one side, 1 the other) or SOIC-like (n per side)."""
    lw = rng.uniform(0.06, 0.09) * s
    ll = rng.uniform(0.10, 0.15) * s
    horizontal = rng.random() < 0.8  # leads on top/bottom (else left/right)
    kind = rng.choice(["sot23", "soic"], p=[0.55, 0.45])
    span = bw if horizontal else bh
    lo = body[0] if horizontal else body[1]
    sides = ("bottom", "top") if horizontal else ("right", "left")
    if kind == "sot23":
        flip = rng.random() < 0.5
        per_side = [(0.22, 0.78), (0.5,)] if not flip else [(0.5,), (0.22, 0.78)]
    else:
        n = int(rng.integers(2, 5))
        pos = tuple((i + 0.5) / n for i in range(n))
        per_side = [pos, pos]
    return tuple(_lead(side, lo + p * span, lw, ll, body)
                 for side, positions in zip(sides, per_side) for p in positions)


def _lead(side: str, c: float, lw: float, ll: float,
          body: tuple[float, float, float, float]) -> Lead:
    """A lead `lw` wide and `ll` long, centred at `c` along `side` of the body."""
    if side == "top":
        return Lead(side, c - lw / 2, body[1] - ll, c + lw / 2, body[1])
    if side == "bottom":
        return Lead(side, c - lw / 2, body[3], c + lw / 2, body[3] + ll)
    if side == "left":
        return Lead(side, body[0] - ll, c - lw / 2, body[0], c + lw / 2)
    return Lead(side, body[2], c - lw / 2, body[2] + ll, c + lw / 2)


def _draw_marking(rng: np.random.Generator, cx: float, cy: float, bw: float,
                  bh: float) -> tuple[tuple[str, ...], tuple[float, float, float, float]]:
    """One or two lines of type code and the box they are printed in, near the body's centre."""
    n_lines = int(rng.integers(1, 3))
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    marking = tuple(
        "".join(rng.choice(list(alphabet), size=int(rng.integers(3, 7)))) for _ in range(n_lines)
    )
    mw = bw * rng.uniform(0.35, 0.6)
    mh = bh * rng.uniform(0.18, 0.25) * n_lines
    mx = cx - mw / 2 + rng.uniform(-0.1, 0.1) * bw
    my = cy - mh / 2 + rng.uniform(-0.12, 0.12) * bh
    return marking, (mx, my, mx + mw, my + mh)


def _draw_glare(rng: np.random.Generator, s: int,
                body: tuple[float, float, float, float]
                ) -> tuple[tuple[float, float, float, float, float], ...]:
    """Zero, one or two soft reflections on the body: (x, y, rx, ry, amplitude)."""
    n_glare = int(rng.random() < 0.25) + int(rng.random() < 0.05)
    return tuple(
        (
            rng.uniform(body[0], body[2]), rng.uniform(body[1], body[3]),
            rng.uniform(0.03, 0.12) * s, rng.uniform(0.02, 0.06) * s,
            rng.uniform(12, 40),
        )
        for _ in range(n_glare)
    )


# --------------------------------------------------------------------------- defect kinds


Extent = tuple[float, float, float, float]


def _extent(points, margin: float) -> Extent:
    """The box around `points`, `margin` wider on every side."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin


@dataclass(frozen=True)
class _Draw:
    """What sampling any defect needs: the scene, the eased difficulty and a shared sign.

    `d = difficulty**1.5` keeps the middle of the scale learnable from a few hundred images;
    `sign` (+1 in 70% of images) is drawn for every kind so that the random stream, and so every
    image of a seed, does not depend on which kind was picked.
    """

    scene: Scene
    d: float
    sign: float

    @property
    def body(self) -> tuple[float, float, float, float, float, float]:
        """x0, y0, x1, y1, width, height of the package body (canonical frame)."""
        x0, y0, x1, y1 = self.scene.body
        return x0, y0, x1, y1, x1 - x0, y1 - y0


@dataclass(frozen=True)
class _Window:
    """The part of the canonical canvas a defect may change, with its pixel coordinates."""

    scene: Scene
    pixels: np.ndarray  # a view into the canvas: painting it paints the canvas
    gx: np.ndarray
    gy: np.ndarray
    body: np.ndarray  # the body mask, in [0, 1]
    rows: slice
    cols: slice

    def crop(self, full: np.ndarray) -> np.ndarray:
        """The window's part of a full-canvas layer."""
        return full[self.rows, self.cols]


class DefectKind(ABC):
    """One kind of defect: `sample` draws its parameters, `paint` applies them to pixels.

    `sample` returns the canonical extent (bounding every pixel `paint` changes) and the
    parameters `paint` reads back from `Defect.params`.
    """

    name: ClassVar[str]
    weight: ClassVar[float]  # share of defect images of this kind (before normalising)

    @abstractmethod
    def sample(self, rng: np.random.Generator, draw: _Draw) -> tuple[Extent, dict]: ...

    @abstractmethod
    def paint(self, win: _Window, params: dict) -> None: ...


class Scratch(DefectKind):
    """A straight thin line across part of the body, usually brighter than the epoxy."""

    name, weight = "scratch", 0.30

    def sample(self, rng, draw):
        x0, y0, x1, y1, bw, bh = draw.body
        d = draw.d
        length = rng.uniform(0.35, 0.9) * math.hypot(bw, bh) * _lerp(1.0, 0.6, d)
        theta = rng.uniform(0, math.pi)
        cx, cy = rng.uniform(x0 + 0.2 * bw, x1 - 0.2 * bw), rng.uniform(y0 + 0.2 * bh, y1 - 0.2 * bh)
        dx, dy = math.cos(theta) * length / 2, math.sin(theta) * length / 2
        p, q = _clip_segment((cx - dx, cy - dy), (cx + dx, cy + dy), (x0 + 1, y0 + 1, x1 - 1, y1 - 1))
        width = max(0.5, rng.uniform(0.5, 0.9) * draw.scene.size / 267 * _lerp(4.0, 1.2, d))
        amp = draw.sign * rng.uniform(0.8, 1.2) * _lerp(95, 20, d)
        return _extent((p, q), 3 * width + 1), {"p": p, "q": q, "width": width, "amp": amp}

    def paint(self, win, params):
        (px, py), (qx, qy) = params["p"], params["q"]
        dx, dy = qx - px, qy - py
        L2 = dx * dx + dy * dy or 1e-9
        t = np.clip(((win.gx - px) * dx + (win.gy - py) * dy) / L2, 0, 1)
        dist = np.hypot(win.gx - (px + t * dx), win.gy - (py + t * dy))
        w = params["width"]
        prof = np.exp(-((dist / w) ** 2)) * (dist < 3 * w)
        win.pixels[...] += params["amp"] * prof * win.body


class Chip(DefectKind):
    """A corner of the body broken off: a jagged triangle shows the dark background."""

    name, weight = "chip", 0.14

    def sample(self, rng, draw):
        x0, y0, x1, y1, bw, bh = draw.body
        d = draw.d
        corner = int(rng.integers(0, 4))
        leg = rng.uniform(0.7, 1.3) * _lerp(0.35, 0.1, d) * min(bw, bh)
        leg = min(leg, 0.45 * min(bw, bh))
        ax, ay = rng.uniform(0.6, 1.4) * leg, rng.uniform(0.6, 1.4) * leg
        cx = x0 if corner in (0, 3) else x1
        cy = y0 if corner in (0, 1) else y1
        sx = 1 if corner in (0, 3) else -1
        sy = 1 if corner in (0, 1) else -1
        # jagged hypotenuse from (cx + sx*ax, cy) to (cx, cy + sy*ay)
        n = 5
        pts = [(cx - sx * 2, cy - sy * 2), (cx + sx * ax, cy - sy * 2)]
        for i in range(1, n):
            t = i / n
            jx = rng.uniform(-0.12, 0.12) * leg
            jy = rng.uniform(-0.12, 0.12) * leg
            pts.append((cx + sx * ax * (1 - t) + jx, cy + sy * ay * t + jy))
        pts += [(cx - sx * 2, cy + sy * ay)]
        fill = _lerp(1.0, 0.55, d)  # how far the chip goes toward the background level
        return _extent(pts, 2), {"poly": tuple(pts), "fill": fill, "edge": rng.uniform(20, 50) * _lerp(1, 0.4, d)}

    def paint(self, win, params):
        n = win.scene.size
        m = win.crop(_poly_mask(n, params["poly"])) * win.body
        target = win.scene.background + 6.0
        edge = win.crop(_poly_mask(n, params["poly"][1:-1], width=1)) * win.body
        win.pixels[...] += (target - win.pixels) * m * params["fill"]
        win.pixels[...] += params["edge"] * edge * (1 - m * 0.5)


class Crack(DefectKind):
    """A dark jagged polyline starting at a body edge and running inwards."""

    name, weight = "crack", 0.16

    def sample(self, rng, draw):
        x0, y0, x1, y1, bw, bh = draw.body
        d = draw.d
        edge = int(rng.integers(0, 4))
        if edge == 0:
            start, heading = (rng.uniform(x0 + 0.1 * bw, x1 - 0.1 * bw), y0 + 1), math.pi / 2
        elif edge == 1:
            start, heading = (rng.uniform(x0 + 0.1 * bw, x1 - 0.1 * bw), y1 - 1), -math.pi / 2
        elif edge == 2:
            start, heading = (x0 + 1, rng.uniform(y0 + 0.1 * bh, y1 - 0.1 * bh)), 0.0
        else:
            start, heading = (x1 - 1, rng.uniform(y0 + 0.1 * bh, y1 - 0.1 * bh)), math.pi
        n_seg = int(rng.integers(4, 9))
        step = rng.uniform(0.3, 0.7) * min(bw, bh) * _lerp(1.3, 0.7, d) / n_seg
        pts = [start]
        ang = heading + rng.uniform(-0.5, 0.5)
        for _ in range(n_seg):
            ang += rng.uniform(-0.8, 0.8)
            px, py = pts[-1]
            nx = min(max(px + math.cos(ang) * step, x0 + 1), x1 - 1)
            ny = min(max(py + math.sin(ang) * step, y0 + 1), y1 - 1)
            pts.append((nx, ny))
        width = max(1, round(draw.scene.size / 267 * rng.uniform(1.0, 2.0) * _lerp(3.0, 1.0, d)))
        amp = -rng.uniform(0.8, 1.2) * _lerp(95, 22, d)
        return _extent(pts, width + 2), {"points": tuple(pts), "width": width, "amp": amp}

    def paint(self, win, params):
        m = win.crop(_poly_mask(win.scene.size, params["points"], width=params["width"])) * win.body
        win.pixels[...] += params["amp"] * m


class _LeadDefect(DefectKind):
    """A defect of one lead: the lead as drawn is replaced by `_moved` (outside the body)."""

    def paint(self, win, params):
        lead = win.scene.leads[params["index"]]
        old = _lead_layer(win.scene, lead, win.gx, win.gy)
        new = self._moved(win, lead, params, old)
        win.pixels[...] += (new - old) * (1 - win.body)  # leads pass under the body

    @abstractmethod
    def _moved(self, win: _Window, lead: Lead, params: dict, old: np.ndarray) -> np.ndarray: ...


class MissingLead(_LeadDefect):
    """A lead cut short from its tip, or gone."""

    name, weight = "missing_lead", 0.10

    def sample(self, rng, draw):
        i = int(rng.integers(0, len(draw.scene.leads)))
        lead = draw.scene.leads[i]
        cut = rng.uniform(0.8, 1.0) * _lerp(1.0, 0.4, draw.d)  # share of the lead gone, from the tip
        return (lead.x0 - 2, lead.y0 - 2, lead.x1 + 2, lead.y1 + 2), {"index": i, "cut": cut}

    def _moved(self, win, lead, params, old):
        cut = params["cut"]
        if cut >= 0.999:
            return 0 * old
        x0, y0, x1, y1 = lead.x0, lead.y0, lead.x1, lead.y1
        if lead.side == "top":
            y0 = lead.y0 + (lead.y1 - lead.y0) * cut
        elif lead.side == "bottom":
            y1 = lead.y1 - (lead.y1 - lead.y0) * cut
        elif lead.side == "left":
            x0 = lead.x0 + (lead.x1 - lead.x0) * cut
        else:
            x1 = lead.x1 - (lead.x1 - lead.x0) * cut
        return _lead_layer(win.scene, Lead(lead.side, x0, y0, x1, y1), win.gx, win.gy)


class BentLead(_LeadDefect):
    """A lead turned about its base."""

    name, weight = "bent_lead", 0.10

    def sample(self, rng, draw):
        i = int(rng.integers(0, len(draw.scene.leads)))
        magnitude = math.radians(rng.uniform(0.8, 1.2) * _lerp(40, 12, draw.d))
        bend = magnitude * (1 if rng.random() < 0.5 else -1)
        # the extent holds the old and the new outline together
        return _bent_extent(draw.scene.leads[i], bend), {"index": i, "bend": bend}

    def _moved(self, win, lead, params, old):
        # rotate the sampling grid about the lead's base instead of the lead
        bx, by = _lead_base(lead)
        c, s_ = math.cos(-params["bend"]), math.sin(-params["bend"])
        ux, uy = win.gx - bx, win.gy - by
        return _lead_layer(win.scene, lead, ux * c + uy * s_ + bx, -ux * s_ + uy * c + by)


class Contamination(DefectKind):
    """A few particles clustered on the body (dark dust or a bright residue)."""

    name, weight = "contamination", 0.20

    def sample(self, rng, draw):
        x0, y0, x1, y1, bw, bh = draw.body
        d, s = draw.d, draw.scene.size
        cx = rng.uniform(x0 + 0.1 * bw, x1 - 0.1 * bw)
        cy = rng.uniform(y0 + 0.1 * bh, y1 - 0.1 * bh)
        n = int(rng.integers(1, 6))
        spread = _lerp(0.06, 0.03, d) * s
        base_r = _lerp(0.035, 0.01, d) * s
        amp = -draw.sign * _lerp(100, 25, d)
        parts = []
        for _ in range(n):
            r = max(0.8, base_r * rng.uniform(0.5, 1.4))
            parts.append((cx + rng.normal(0, spread), cy + rng.normal(0, spread), r,
                          amp * rng.uniform(0.7, 1.2)))
        ext = (min(p[0] - 2 * p[2] - 1 for p in parts), min(p[1] - 2 * p[2] - 1 for p in parts),
               max(p[0] + 2 * p[2] + 1 for p in parts), max(p[1] + 2 * p[2] + 1 for p in parts))
        return ext, {"particles": tuple(parts)}

    def paint(self, win, params):
        for cx, cy, r, amp in params["particles"]:
            d2 = ((win.gx - cx) ** 2 + (win.gy - cy) ** 2) / (r * r)
            win.pixels[...] += amp * np.exp(-d2 * 1.5) * (d2 < 4.0)


KINDS: dict[str, DefectKind] = {
    k.name: k for k in (Scratch(), Chip(), Crack(), MissingLead(), BentLead(), Contamination())
}
DEFECT_KINDS = tuple(KINDS)
_KIND_P = np.array([k.weight for k in KINDS.values()]) / sum(k.weight for k in KINDS.values())


def draw_defect(
    rng: np.random.Generator, scene: Scene, difficulty: float = 0.5, kind: str | None = None
) -> Defect:
    """Draw one defect for `scene` (of `kind`, else a random one); 0 = obvious, 1 = faint."""
    if kind is None:
        kind = str(rng.choice(DEFECT_KINDS, p=_KIND_P))
    if kind not in KINDS:
        raise KfError(f"unknown defect kind {kind!r}; choose one of {', '.join(DEFECT_KINDS)}")
    draw = _Draw(scene, difficulty**1.5, 1.0 if rng.random() < 0.7 else -1.0)
    extent, params = KINDS[kind].sample(rng, draw)
    return Defect(kind=kind, extent=tuple(float(v) for v in extent), params=params)


# --------------------------------------------------------------------------- geometry helpers


def _clip_segment(p, q, rect):
    """Liang-Barsky: the part of segment p-q inside rect (p, q if it is already inside)."""
    x0, y0, x1, y1 = rect
    dx, dy = q[0] - p[0], q[1] - p[1]
    t0, t1 = 0.0, 1.0
    for pk, qk in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if pk == 0:
            continue
        t = qk / pk
        if pk < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
    if t0 > t1:  # the centre is inside the body, so this does not happen; stay safe
        return p, p
    return (p[0] + t0 * dx, p[1] + t0 * dy), (p[0] + t1 * dx, p[1] + t1 * dy)


def _lead_base(lead: Lead) -> tuple[float, float]:
    cx, cy = (lead.x0 + lead.x1) / 2, (lead.y0 + lead.y1) / 2
    return {
        "top": (cx, lead.y1), "bottom": (cx, lead.y0),
        "left": (lead.x1, cy), "right": (lead.x0, cy),
    }[lead.side]


def _lead_corners(lead: Lead, bend: float = 0.0) -> np.ndarray:
    pts = np.array([[lead.x0, lead.y0], [lead.x1, lead.y0], [lead.x1, lead.y1], [lead.x0, lead.y1]])
    if bend:
        b = np.array(_lead_base(lead))
        c, s_ = math.cos(bend), math.sin(bend)
        pts = (pts - b) @ np.array([[c, s_], [-s_, c]]) + b
    return pts


def _bent_extent(lead: Lead, bend: float) -> tuple[float, float, float, float]:
    a = _lead_corners(lead)
    b = _lead_corners(lead, bend)
    pts = np.vstack([a, b])
    return (pts[:, 0].min() - 2, pts[:, 1].min() - 2, pts[:, 0].max() + 2, pts[:, 1].max() + 2)


def _forward(scene: Scene, pts: np.ndarray) -> np.ndarray:
    """Canonical-frame points -> image pixel coordinates (rotation about the centre, shift)."""
    c = (scene.size - 1) / 2
    a = math.radians(scene.angle)
    ca, sa = math.cos(a), math.sin(a)
    x, y = pts[:, 0] - c, pts[:, 1] - c
    return np.stack([ca * x + sa * y + c + scene.shift[0], -sa * x + ca * y + c + scene.shift[1]], 1)


def defect_box(scene: Scene, defect: Defect) -> Box:
    """The defect's box in image pixels: (x_1, y_1, x_2, y_2), inclusive, inside the image.

    It encloses every pixel that drawing the defect changes (before JPEG), with a small margin.
    """
    x0, y0, x1, y1 = defect.extent
    corners = _forward(scene, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    hi = scene.size - 1
    bx0 = int(np.clip(math.floor(corners[:, 0].min()) - _BOX_PAD, 0, hi))
    by0 = int(np.clip(math.floor(corners[:, 1].min()) - _BOX_PAD, 0, hi))
    bx1 = int(np.clip(math.ceil(corners[:, 0].max()) + _BOX_PAD, 0, hi))
    by1 = int(np.clip(math.ceil(corners[:, 1].max()) + _BOX_PAD, 0, hi))
    if bx1 <= bx0:
        bx0, bx1 = (bx0 - 1, bx0) if bx0 > 0 else (0, 1)
    if by1 <= by0:
        by0, by1 = (by0 - 1, by0) if by0 > 0 else (0, 1)
    return bx0, by0, bx1, by1


# --------------------------------------------------------------------------- rendering


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default_imagefont()  # the bitmap font: same glyphs everywhere


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return xx, yy


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a small random grid upsampled bicubically."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    img = Image.fromarray(small, mode="F").resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def _rect_mask(xx, yy, x0, y0, x1, y1, soft: float = 0.7) -> np.ndarray:
    """A rectangle with a soft (about one pixel) edge, values in [0, 1]."""
    mx = np.clip(np.minimum(xx - x0, x1 - xx) / soft + 0.5, 0, 1)
    my = np.clip(np.minimum(yy - y0, y1 - yy) / soft + 0.5, 0, 1)
    return mx * my


def _poly_mask(size: int, pts, width: int = 0) -> np.ndarray:
    """A polygon (width 0) or polyline (width > 0) drawn by PIL at 4x and averaged down."""
    k = 4
    im = Image.new("L", (size * k, size * k), 0)
    dr = ImageDraw.Draw(im)
    scaled = [(x * k + (k - 1) / 2, y * k + (k - 1) / 2) for x, y in pts]
    if width:
        dr.line(scaled, fill=255, width=width * k, joint="curve")
    else:
        dr.polygon(scaled, fill=255)
    a = np.asarray(im, dtype=np.float32).reshape(size, k, size, k).mean(axis=(1, 3))
    return a / 255.0


def _text_layer(scene: Scene) -> np.ndarray:
    """The marking, drawn with the bitmap font and scaled onto its box, values in [0, 1]."""
    font = _font()
    lines = scene.marking
    boxes = [font.getbbox(t) for t in lines]
    tw = max(b[2] - b[0] for b in boxes) + 2
    lh = max(b[3] - b[1] for b in boxes) + 2
    im = Image.new("L", (tw, lh * len(lines)), 0)
    dr = ImageDraw.Draw(im)
    for i, (t, b) in enumerate(zip(lines, boxes)):
        dr.text((1 - b[0], 1 - b[1] + i * lh), t, fill=255, font=font)
    x0, y0, x1, y1 = scene.marking_box
    w, h = max(1, round(x1 - x0)), max(1, round(y1 - y0))
    txt = im.resize((w, h), Image.BILINEAR)
    layer = Image.new("L", (scene.size, scene.size), 0)
    layer.paste(txt, (round(x0), round(y0)))
    return np.asarray(layer, dtype=np.float32) / 255.0


def _warp(img: np.ndarray, scene: Scene, fill: float) -> np.ndarray:
    """Rotate about the centre and shift (bilinear); outside the canvas reads `fill`."""
    n = scene.size
    xx, yy = _grid(n)
    c = (n - 1) / 2
    a = math.radians(scene.angle)
    ca, sa = math.cos(a), math.sin(a)
    u, v = xx - c - scene.shift[0], yy - c - scene.shift[1]
    sx = ca * u - sa * v + c  # inverse of _forward
    sy = sa * u + ca * v + c
    x0 = np.floor(sx)
    y0 = np.floor(sy)
    fx, fy = sx - x0, sy - y0
    pad = np.pad(img, 1, mode="constant", constant_values=fill)
    xi = np.clip(x0.astype(np.int64) + 1, 0, n)
    yi = np.clip(y0.astype(np.int64) + 1, 0, n)
    inside = (sx >= -1) & (sx <= n) & (sy >= -1) & (sy <= n)
    a00 = pad[yi, xi]
    a01 = pad[yi, xi + 1]
    a10 = pad[yi + 1, xi]
    a11 = pad[yi + 1, xi + 1]
    out = (a00 * (1 - fx) + a01 * fx) * (1 - fy) + (a10 * (1 - fx) + a11 * fx) * fy
    return np.where(inside, out, fill).astype(np.float32)


def _paint_defect(canvas: np.ndarray, scene: Scene, defect: Defect, body: np.ndarray) -> None:
    """Apply `defect` to the canonical canvas in place, only inside `defect.extent`."""
    n = scene.size
    e = defect.extent
    rows = slice(max(0, math.floor(e[1])), min(n, math.ceil(e[3]) + 1))
    cols = slice(max(0, math.floor(e[0])), min(n, math.ceil(e[2]) + 1))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        return
    xx, yy = _grid(n)
    win = _Window(scene, canvas[rows, cols], xx[rows, cols], yy[rows, cols], body[rows, cols],
                  rows, cols)
    KINDS[defect.kind].paint(win, defect.params)


def _lead_layer(scene: Scene, lead: Lead, gx, gy) -> np.ndarray:
    """A lead's contribution above the background: metal with a bright ridge along it."""
    m = _rect_mask(gx, gy, lead.x0, lead.y0, lead.x1, lead.y1)
    if lead.side in ("top", "bottom"):
        t = (gx - (lead.x0 + lead.x1) / 2) / max(1e-6, (lead.x1 - lead.x0) / 2)
    else:
        t = (gy - (lead.y0 + lead.y1) / 2) / max(1e-6, (lead.y1 - lead.y0) / 2)
    shade = 1.0 - 0.35 * np.clip(t * t, 0, 1)
    return m * (scene.lead_level * shade - scene.background)


def render(scene: Scene, defect: Defect | None = None) -> np.ndarray:
    """Pixels of one photo, float32 in [0, 255], shape (size, size), before JPEG.

    Drawing the same scene with and without a defect changes only pixels inside
    `defect_box(scene, defect)`: every nuisance (texture, noise, glare, border) comes from
    `scene` alone.
    """
    n = scene.size
    rng = np.random.default_rng(scene.seed)
    xx, yy = _grid(n)
    img = _warp(_canonical(scene, defect, rng, xx, yy), scene, scene.background)
    _add_glare(img, scene, xx, yy)
    _add_border(img, scene, rng, xx, yy)
    img = (img - 128.0) * scene.gain + 128.0 + scene.offset
    img += scene.noise_sigma * rng.standard_normal((n, n), dtype=np.float32)
    return np.clip(img, 0, 255)


def _canonical(scene: Scene, defect: Defect | None, rng: np.random.Generator,
               xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """The chip in its canonical frame (before rotation and shift): background, leads, body,
    marking, and the defect painted on them."""
    n = scene.size
    bg = scene.background
    tex_bg = _smooth_noise(rng, n, 6)
    tex_body = _smooth_noise(rng, n, 10)
    canvas = np.full((n, n), bg, dtype=np.float32) + 4.0 * tex_bg

    body = _rect_mask(xx, yy, *scene.body)
    x0, y0, x1, y1 = scene.body
    # Leads first (they pass under the body), then the body with a bright bevel rim.
    leads = np.zeros((n, n), np.float32)
    for lead in scene.leads:
        leads += _lead_layer(scene, lead, xx, yy)
    canvas += leads * (1 - body)
    inner = _rect_mask(xx, yy, x0 + 0.02 * n, y0 + 0.02 * n, x1 - 0.02 * n, y1 - 0.02 * n, soft=3)
    grad = (xx - x0) / max(1.0, x1 - x0) - 0.5
    level = scene.body_level * (1 + 0.08 * grad) + 5.0 * tex_body
    level = level + scene.rim * (1 - inner)
    canvas = canvas * (1 - body) + level * body
    canvas += scene.marking_level * _text_layer(scene) * body

    if defect is not None:
        _paint_defect(canvas, scene, defect, body)
    return canvas


def _add_glare(img: np.ndarray, scene: Scene, xx: np.ndarray, yy: np.ndarray) -> None:
    """Soft bright ellipses, in the image frame (they do not depend on the defect)."""
    for gx, gy, rx, ry, amp in scene.glare:
        p = _forward(scene, np.array([[gx, gy]]))[0]
        d2 = ((xx - p[0]) / rx) ** 2 + ((yy - p[1]) / ry) ** 2
        img += amp * np.exp(-d2) * (d2 < 9)


def _add_border(img: np.ndarray, scene: Scene, rng: np.random.Generator, xx: np.ndarray,
                yy: np.ndarray) -> None:
    """Border artefacts of both classes: bright, noisy bands within ~20 px of the edge on
    `scene.border_sides`, and a few bright specks near the edge."""
    n = scene.size
    band = BORDER * n
    for side in scene.border_sides:
        depth = rng.uniform(0.25, 1.0) * band
        strength = rng.uniform(40, 160)
        dist = {"top": yy, "bottom": n - 1 - yy, "left": xx, "right": n - 1 - xx}[side]
        along = {"top": xx, "bottom": xx, "left": yy, "right": yy}[side]
        start, stop = sorted(rng.uniform(0, n, 2))
        stop = max(stop, start + 0.3 * n)
        m = (dist < depth) & (along >= start) & (along <= stop)
        speckle = rng.random((n, n), dtype=np.float32)
        img += m * strength * (0.4 + 0.6 * speckle) * np.exp(-dist / max(1.0, depth / 2))
    for _ in range(int(rng.integers(0, 6))):
        side = rng.integers(0, 4)
        a = rng.uniform(0, n)
        b = rng.uniform(0, band)
        px, py = [(a, b), (a, n - 1 - b), (b, a), (n - 1 - b, a)][side]
        r = rng.uniform(0.6, 2.5) * max(1.0, n / 267)
        d2 = ((xx - px) ** 2 + (yy - py) ** 2) / (r * r)
        img += rng.uniform(60, 200) * np.exp(-d2) * (d2 < 9)


def encode_jpeg(img: np.ndarray) -> bytes:
    """Round to uint8 and encode as a grayscale JPEG with the fixed quality."""
    buf = io.BytesIO()
    Image.fromarray(np.rint(img).astype(np.uint8), mode="L").save(
        buf, format="JPEG", quality=JPEG_QUALITY, optimize=False
    )
    return buf.getvalue()


# --------------------------------------------------------------------------- the dataset plan


@dataclass(frozen=True)
class Item:
    """One image of the plan: its id, split, true and filed label, and how to draw it."""

    id: str
    split: str  # "train" | "test"
    label: int  # true class: 1 = defect
    filed: int  # class folder it is written to (differs from `label` when flipped)
    seed: int
    boxed: bool  # its box goes to defect_area.csv


_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def _make_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Nexperia-like ids, e.g. WEA938001D1A_17-APG_ITIS_H49_1_48_2; unique."""
    n_lots = max(2, n // 60)
    lots = []
    for _ in range(n_lots):
        if rng.random() < 0.15:
            lots.append(f"SOT{rng.integers(10, 99)}DUMMY{rng.integers(1, 99):02d}")
        else:
            a = "".join(rng.choice(_LETTERS, 3))
            lots.append(f"{a}{rng.integers(100000, 999999)}{rng.choice(_LETTERS)}"
                        f"{rng.integers(0, 9)}{rng.choice(_LETTERS)}")
    heads = [f"H{'S' if rng.random() < 0.3 else ''}{rng.integers(1, 99)}" for _ in range(6)]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        lot = lots[int(rng.integers(0, n_lots))]
        head = heads[int(rng.integers(0, len(heads)))]
        s = (f"{lot}_{rng.integers(1, 60):02d}-APG_ITIS_{head}_{rng.integers(1, 3)}"
             f"_{rng.integers(1, 200)}_{rng.integers(1, 9)}")
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def _n_defects(n: int, rate: float) -> int:
    return int(min(max(round(n * rate), 1), n - 1))


def plan(
    *, n_train: int = 1000, n_test: int = 300, defect_rate: float = 0.2, label_noise: float = 0.0,
    box_rate: float = 0.85, seed: int = 0,
) -> list[Item]:
    """Decide every image's id, split, labels, seed and whether it gets a box (no drawing)."""
    rng = np.random.default_rng([seed, 7211])
    ids = _make_ids(rng, n_train + n_test)
    items: list[Item] = []
    img_seeds = rng.integers(0, 2**63 - 1, size=n_train + n_test)
    k = 0
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.zeros(n, dtype=int)
        labels[rng.permutation(n)[: _n_defects(n, defect_rate)]] = 1
        filed = labels.copy()
        if split == "train" and label_noise > 0:
            flip = rng.permutation(n)[: round(label_noise * n)]
            filed[flip] = 1 - filed[flip]
        boxed = np.zeros(n, dtype=bool)
        if split == "train":
            cand = np.flatnonzero((labels == 1) & (filed == 1))
            n_box = round(box_rate * len(cand))
            boxed[rng.permutation(cand)[:n_box]] = True
        for i in range(n):
            items.append(Item(ids[k], split, int(labels[i]), int(filed[i]), int(img_seeds[k]),
                              bool(boxed[i])))
            k += 1
    return items


def draw_item(item: Item, size: int, difficulty: float) -> tuple[Scene, Defect | None]:
    """The scene (and defect, for a true defect) of one planned image."""
    rng = np.random.default_rng(item.seed)
    scene = draw_scene(rng, size, difficulty)
    defect = draw_defect(rng, scene, difficulty) if item.label == 1 else None
    return scene, defect


# --------------------------------------------------------------------------- writing


def check_args(n_train: int = 1000, n_test: int = 300, size: int = 267,
               defect_rate: float = 0.2, difficulty: float = 0.5, label_noise: float = 0.0,
               box_rate: float = 0.85, seed: int = 0) -> None:
    """Every option's range, named as `kf data synth` spells it, before anything is written."""
    check_whole("--n-train", n_train, 10, 1_000_000)
    check_whole("--n-test", n_test, 2, 1_000_000)
    check_whole("--size", size, 32, 4096)
    check_number("--defect-rate", defect_rate, low=0, high=1, low_open=True, high_open=True)
    check_number("--difficulty", difficulty, low=0, high=1)
    check_number("--label-noise", label_noise, low=0, high=0.5, high_open=True)
    check_number("--box-rate", box_rate, low=0, high=1)
    check_whole("--seed", seed, 0, SEED_MAX)


def synthesize(
    out: str | Path, *, n_train: int = 1000, n_test: int = 300, size: int = 267,
    defect_rate: float = 0.2, difficulty: float = 0.5, label_noise: float = 0.0,
    box_rate: float = 0.85, seed: int = 0, progress: Callable[[int, int], None] | None = None,
) -> SynthSummary:
    """Write a Nexperia-like dataset under `out` (which must be missing or empty).

    Files: train/good_0/<id>.jpg, train/bad_1/<id>.jpg, test/<id>.jpg, defect_area.csv
    (id, x_1, y_1, x_2, y_2), sample_submission.csv (id, label=0.5; test ids sorted) and
    solution.csv (id, label, Usage = Public/Private, stratified half each) for a local scorer.
    Same arguments, same bytes. `progress(done, total)` is called after each image.
    """
    check_args(n_train, n_test, size, defect_rate, difficulty, label_noise, box_rate, seed)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise KfError(f"{out} already exists and is not an empty folder; "
                      "pass a new or empty folder (--out) or remove it first")
    out.parent.mkdir(parents=True, exist_ok=True)

    items = plan(n_train=n_train, n_test=n_test, defect_rate=defect_rate,
                 label_noise=label_noise, box_rate=box_rate, seed=seed)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        boxes, kinds = _write_images(tmp, items, size, difficulty, progress)
        _write_tables(tmp, items, boxes, seed)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    tr = [it for it in items if it.split == "train"]
    te = [it for it in items if it.split == "test"]
    return SynthSummary(
        path=str(out), n_train=n_train, n_test=n_test,
        train_good=sum(it.filed == 0 for it in tr), train_bad=sum(it.filed == 1 for it in tr),
        test_good=sum(it.label == 0 for it in te), test_bad=sum(it.label == 1 for it in te),
        boxes=len(boxes), flipped=sum(it.filed != it.label for it in tr),
        kinds=tuple(sorted(kinds.items())), size=size, seed=seed,
    )


Box = tuple[str, int, int, int, int]  # id, x_1, y_1, x_2, y_2


def _write_images(root: Path, items: list[Item], size: int, difficulty: float,
                  progress: Callable[[int, int], None] | None) -> tuple[list[Box], Counter[str]]:
    """Draw and write every planned image into its class folder; the boxes of the boxed
    defects and the count of each defect kind."""
    for d in (root / "train" / GOOD, root / "train" / BAD, root / "test"):
        d.mkdir(parents=True)
    boxes: list[Box] = []
    kinds: Counter[str] = Counter()
    drawn = _draw_all(items, size, difficulty)
    for k, (item, (jpeg, kind, box)) in enumerate(zip(items, drawn)):
        folder = root / "test" if item.split == "test" else root / "train" / (BAD if item.filed else GOOD)
        (folder / f"{item.id}.jpg").write_bytes(jpeg)
        if kind is not None:
            kinds[kind] += 1
        if box is not None:
            boxes.append((item.id, *box))
        if progress is not None:
            progress(k + 1, len(items))
    return boxes, kinds


def _draw_all(items: list[Item], size: int, difficulty: float, chunk: int = 64):
    """Every item drawn and encoded, in order; spread over the CPU cores when there are
    enough items (each item has its own seed, so the images do not depend on the split)."""
    args = (items, [size] * len(items), [difficulty] * len(items))
    workers = min(os.cpu_count() or 1, len(items) // chunk)
    if workers < 2:
        yield from map(_draw_one, *args)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a forked child of a process running torch's thread pools can hang
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_draw_one, *args, chunksize=chunk)


def _draw_one(item: Item, size: int, difficulty: float) -> tuple[bytes, str | None, tuple | None]:
    """One item's JPEG bytes, its defect kind and its box (when the item is boxed)."""
    scene, defect = draw_item(item, size, difficulty)
    jpeg = encode_jpeg(render(scene, defect))
    if defect is None:
        return jpeg, None, None
    return jpeg, defect.kind, tuple(defect_box(scene, defect)) if item.boxed else None


def _write_tables(root: Path, items: list[Item], boxes: list[Box], seed: int) -> None:
    """defect_area.csv, sample_submission.csv and solution.csv (with its Public/Private split)."""
    pd.DataFrame(boxes, columns=["id", "x_1", "y_1", "x_2", "y_2"]).sort_values("id").to_csv(
        root / "defect_area.csv", index=False)
    test = sorted((it for it in items if it.split == "test"), key=lambda it: it.id)
    pd.DataFrame({"id": [it.id for it in test], "label": 0.5}).to_csv(
        root / "sample_submission.csv", index=False)
    usage = _usage(test, seed)
    pd.DataFrame({
        "id": [it.id for it in test], "label": [it.label for it in test],
        "Usage": [usage[it.id] for it in test],
    }).to_csv(root / "solution.csv", index=False)


def _usage(test: list[Item], seed: int) -> dict[str, str]:
    """Each test id's half of the leaderboard, "Public" or "Private", stratified by class so
    the public half has both classes."""
    usage_rng = np.random.default_rng([seed, 4242])
    usage = {}
    for cls in (0, 1):
        ids = [it.id for it in test if it.label == cls]
        order = usage_rng.permutation(len(ids))
        half = (len(ids) + 1 - cls) // 2  # good rounds up, bad down: both values appear
        for j, i in enumerate(order):
            usage[ids[i]] = "Public" if j < half else "Private"
    return usage
