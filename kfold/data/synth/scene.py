"""The scene of one synthetic chip photo: every nuisance parameter, drawn before any pixel.

A `Scene` holds the package body, its leads and marking, pose, exposure, glare and border
sides; `draw_scene` draws them from one random stream in a fixed order, and `forward` maps the
scene's canonical frame to image pixels (the pose `raster.render` applies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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


def lerp(a: float, b: float, t: float) -> float:
    """From `a` (t = 0) to `b` (t = 1): how difficulty eases every strength and size."""
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


def forward(scene: Scene, pts: np.ndarray) -> np.ndarray:
    """Canonical-frame points -> image pixel coordinates (rotation about the centre, shift)."""
    c = (scene.size - 1) / 2
    a = math.radians(scene.angle)
    ca, sa = math.cos(a), math.sin(a)
    x, y = pts[:, 0] - c, pts[:, 1] - c
    return np.stack([ca * x + sa * y + c + scene.shift[0], -sa * x + ca * y + c + scene.shift[1]], 1)
