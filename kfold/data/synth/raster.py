"""Pixels: a scene (and its defect) rendered to a grayscale image, and the JPEG bytes.

`render` draws the chip in its canonical frame (`_canonical`), paints the defect there, warps
it into the pose, then adds what lies in the image frame (glare, border artefacts, exposure and
sensor noise). Every nuisance comes from the scene's own seed, so an image with and without
its defect differs only inside `kinds.defect_box`.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kfold.data.synth.kinds import Defect, paint_defect
from kfold.data.synth.masks import grid, lead_layer, rect_mask
from kfold.data.synth.scene import Scene, forward

JPEG_QUALITY = 92
BORDER = 20 / 267  # artefact band, as a share of the image side (the original cropped ~20 px)


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default_imagefont()  # the bitmap font: same glyphs everywhere


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a small random grid upsampled bicubically."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    img = Image.fromarray(small, mode="F").resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32)


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
    xx, yy = grid(n)
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


def render(scene: Scene, defect: Defect | None = None) -> np.ndarray:
    """Pixels of one photo, float32 in [0, 255], shape (size, size), before JPEG.

    Drawing the same scene with and without a defect changes only pixels inside
    `defect_box(scene, defect)`: every nuisance (texture, noise, glare, border) comes from
    `scene` alone.
    """
    n = scene.size
    rng = np.random.default_rng(scene.seed)
    xx, yy = grid(n)
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

    body = rect_mask(xx, yy, *scene.body)
    x0, y0, x1, y1 = scene.body
    # Leads first (they pass under the body), then the body with a bright bevel rim.
    leads = np.zeros((n, n), np.float32)
    for lead in scene.leads:
        leads += lead_layer(scene, lead, xx, yy)
    canvas += leads * (1 - body)
    inner = rect_mask(xx, yy, x0 + 0.02 * n, y0 + 0.02 * n, x1 - 0.02 * n, y1 - 0.02 * n, soft=3)
    grad = (xx - x0) / max(1.0, x1 - x0) - 0.5
    level = scene.body_level * (1 + 0.08 * grad) + 5.0 * tex_body
    level = level + scene.rim * (1 - inner)
    canvas = canvas * (1 - body) + level * body
    canvas += scene.marking_level * _text_layer(scene) * body

    if defect is not None:
        paint_defect(canvas, scene, defect, body)
    return canvas


def _add_glare(img: np.ndarray, scene: Scene, xx: np.ndarray, yy: np.ndarray) -> None:
    """Soft bright ellipses, in the image frame (they do not depend on the defect)."""
    for gx, gy, rx, ry, amp in scene.glare:
        p = forward(scene, np.array([[gx, gy]]))[0]
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
