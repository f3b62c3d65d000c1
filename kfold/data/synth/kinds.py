"""Defect kinds, the generator's extension point, and where a defect lands in the image.

Each kind is one small `DefectKind` class: `sample` draws its parameters and the canonical
extent that bounds every pixel it changes, `paint` applies them to the window of the canvas
inside that extent. A new kind is a class here plus its entry in `KINDS`; its `weight` sets its
share of defect images. Adding one changes which kind a seed draws, so the recorded hashes in
tests/test_synth.py change with it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from kfold.data.synth.masks import grid, lead_layer, poly_mask
from kfold.data.synth.scene import Lead, Scene, forward, lerp
from kfold.errors import KfError

_BOX_PAD = 2  # pixels added around a defect's extent (bilinear warp spreads one pixel)

Box = tuple[int, int, int, int]


Extent = tuple[float, float, float, float]


def _extent(points, margin: float) -> Extent:
    """The box around `points`, `margin` wider on every side."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin


@dataclass(frozen=True)
class Defect:
    """One defect in the canonical frame. `extent` bounds every canonical pixel it changes."""

    kind: str
    extent: tuple[float, float, float, float]  # x0, y0, x1, y1 (canonical frame)
    params: dict = field(default_factory=dict, compare=False, hash=False)


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
        length = rng.uniform(0.35, 0.9) * math.hypot(bw, bh) * lerp(1.0, 0.6, d)
        theta = rng.uniform(0, math.pi)
        cx, cy = rng.uniform(x0 + 0.2 * bw, x1 - 0.2 * bw), rng.uniform(y0 + 0.2 * bh, y1 - 0.2 * bh)
        dx, dy = math.cos(theta) * length / 2, math.sin(theta) * length / 2
        p, q = _clip_segment((cx - dx, cy - dy), (cx + dx, cy + dy), (x0 + 1, y0 + 1, x1 - 1, y1 - 1))
        width = max(0.5, rng.uniform(0.5, 0.9) * draw.scene.size / 267 * lerp(4.0, 1.2, d))
        amp = draw.sign * rng.uniform(0.8, 1.2) * lerp(95, 20, d)
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
        leg = rng.uniform(0.7, 1.3) * lerp(0.35, 0.1, d) * min(bw, bh)
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
        fill = lerp(1.0, 0.55, d)  # how far the chip goes toward the background level
        return _extent(pts, 2), {"poly": tuple(pts), "fill": fill, "edge": rng.uniform(20, 50) * lerp(1, 0.4, d)}

    def paint(self, win, params):
        n = win.scene.size
        m = win.crop(poly_mask(n, params["poly"])) * win.body
        target = win.scene.background + 6.0
        edge = win.crop(poly_mask(n, params["poly"][1:-1], width=1)) * win.body
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
        step = rng.uniform(0.3, 0.7) * min(bw, bh) * lerp(1.3, 0.7, d) / n_seg
        pts = [start]
        ang = heading + rng.uniform(-0.5, 0.5)
        for _ in range(n_seg):
            ang += rng.uniform(-0.8, 0.8)
            px, py = pts[-1]
            nx = min(max(px + math.cos(ang) * step, x0 + 1), x1 - 1)
            ny = min(max(py + math.sin(ang) * step, y0 + 1), y1 - 1)
            pts.append((nx, ny))
        width = max(1, round(draw.scene.size / 267 * rng.uniform(1.0, 2.0) * lerp(3.0, 1.0, d)))
        amp = -rng.uniform(0.8, 1.2) * lerp(95, 22, d)
        return _extent(pts, width + 2), {"points": tuple(pts), "width": width, "amp": amp}

    def paint(self, win, params):
        m = win.crop(poly_mask(win.scene.size, params["points"], width=params["width"])) * win.body
        win.pixels[...] += params["amp"] * m


class _LeadDefect(DefectKind):
    """A defect of one lead: the lead as drawn is replaced by `_moved` (outside the body)."""

    def paint(self, win, params):
        lead = win.scene.leads[params["index"]]
        old = lead_layer(win.scene, lead, win.gx, win.gy)
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
        cut = rng.uniform(0.8, 1.0) * lerp(1.0, 0.4, draw.d)  # share of the lead gone, from the tip
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
        return lead_layer(win.scene, Lead(lead.side, x0, y0, x1, y1), win.gx, win.gy)


class BentLead(_LeadDefect):
    """A lead turned about its base."""

    name, weight = "bent_lead", 0.10

    def sample(self, rng, draw):
        i = int(rng.integers(0, len(draw.scene.leads)))
        magnitude = math.radians(rng.uniform(0.8, 1.2) * lerp(40, 12, draw.d))
        bend = magnitude * (1 if rng.random() < 0.5 else -1)
        # the extent holds the old and the new outline together
        return _bent_extent(draw.scene.leads[i], bend), {"index": i, "bend": bend}

    def _moved(self, win, lead, params, old):
        # rotate the sampling grid about the lead's base instead of the lead
        bx, by = _lead_base(lead)
        c, s_ = math.cos(-params["bend"]), math.sin(-params["bend"])
        ux, uy = win.gx - bx, win.gy - by
        return lead_layer(win.scene, lead, ux * c + uy * s_ + bx, -ux * s_ + uy * c + by)


class Contamination(DefectKind):
    """A few particles clustered on the body (dark dust or a bright residue)."""

    name, weight = "contamination", 0.20

    def sample(self, rng, draw):
        x0, y0, x1, y1, bw, bh = draw.body
        d, s = draw.d, draw.scene.size
        cx = rng.uniform(x0 + 0.1 * bw, x1 - 0.1 * bw)
        cy = rng.uniform(y0 + 0.1 * bh, y1 - 0.1 * bh)
        n = int(rng.integers(1, 6))
        spread = lerp(0.06, 0.03, d) * s
        base_r = lerp(0.035, 0.01, d) * s
        amp = -draw.sign * lerp(100, 25, d)
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


def paint_defect(canvas: np.ndarray, scene: Scene, defect: Defect, body: np.ndarray) -> None:
    """Apply `defect` to the canonical canvas in place, only inside `defect.extent`."""
    n = scene.size
    e = defect.extent
    rows = slice(max(0, math.floor(e[1])), min(n, math.ceil(e[3]) + 1))
    cols = slice(max(0, math.floor(e[0])), min(n, math.ceil(e[2]) + 1))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        return
    xx, yy = grid(n)
    win = _Window(scene, canvas[rows, cols], xx[rows, cols], yy[rows, cols], body[rows, cols],
                  rows, cols)
    KINDS[defect.kind].paint(win, defect.params)


def defect_box(scene: Scene, defect: Defect) -> Box:
    """The defect's box in image pixels: (x_1, y_1, x_2, y_2), inclusive, inside the image.

    It encloses every pixel that drawing the defect changes (before JPEG), with a small margin.
    """
    x0, y0, x1, y1 = defect.extent
    corners = forward(scene, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
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
