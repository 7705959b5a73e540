"""Rendering of a scene into an RGB image (numpy + PIL only).

Objects are painted back to front (increasing depth), each from its class shape drawn into a
layer exactly the size of its box, so occlusion follows depth and every box is the extent of
what was drawn for it. Patterns (stripes, dots) and textures (leaves, bricks) are applied to
the pixels of the object's main colour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .backgrounds import paint_background
from .palette import COLOR_RGB, HAIR_COLORS, SKIN_TONES, role_colors
from .scene import Scene, SceneObject
from .shape_table import get_shape
from .shapes import Prim
from .vocabulary import GROUND, SKY

__all__ = ["render_scene", "draw_object"]

_BACKGROUND = set(GROUND + SKY)
_TEXTURE = {"tree": "leaves", "building": "bricks"}


def _scaled(prim: Prim, w: int, h: int) -> list[float]:
    sx, sy = w - 1, h - 1
    return [c * (sx if i % 2 == 0 else sy) for i, c in enumerate(prim.coords)]


def _draw_prim(draw: ImageDraw.ImageDraw, prim: Prim, w: int, h: int, color: tuple) -> None:
    xy = _scaled(prim, w, h)
    fill = color + (255,)
    width = max(1, int(round(prim.width * min(w, h))))
    if prim.kind == "ellipse":
        draw.ellipse(xy, fill=fill)
    elif prim.kind == "rect":
        draw.rectangle(xy, fill=fill)
    elif prim.kind == "poly":
        draw.polygon(xy, fill=fill)
    elif prim.kind == "line":
        draw.line(xy, fill=fill, width=width, joint="curve")
    elif prim.kind == "pie":
        draw.pieslice(xy, prim.angles[0], prim.angles[1], fill=fill)
    elif prim.kind == "ring":
        draw.ellipse(xy, outline=fill, width=width)
    else:
        raise ValueError(f"unknown primitive kind {prim.kind!r}")


def _overlay(rgba: np.ndarray, main: tuple, kind: str, rng: np.random.Generator) -> None:
    """Stripes, dots, leaves or bricks on the pixels of the main colour (in place)."""
    h, w = rgba.shape[:2]
    mask = (rgba[..., 3] > 0) & np.all(rgba[..., :3] == main, axis=-1)
    yy, xx = np.mgrid[0:h, 0:w]
    bright = sum(main) > 420
    ink = np.array((40, 40, 48) if bright else (240, 240, 240), np.uint8)
    period = max(4, min(h, w) // 5)
    if kind == "striped":
        pattern = (yy // max(2, period // 2)) % 2 == 0
    elif kind == "dotted":
        pattern = ((xx % period) < period // 3) & ((yy % period) < period // 3)
    elif kind == "leaves":
        pattern = rng.random((h, w)) < 0.22
        ink = (np.array(main) * 0.6).astype(np.uint8)
    elif kind == "bricks":
        row = yy // 5
        pattern = (yy % 5 == 0) | (((xx + (row % 2) * 6) % 12) == 0)
        ink = (np.array(main) * 0.7).astype(np.uint8)
    else:
        raise ValueError(f"unknown pattern {kind!r}")
    rgba[mask & pattern, :3] = ink


def _main_color(obj: SceneObject, rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.array(COLOR_RGB.get(obj.color, (128, 128, 128)), np.int16)
    return tuple(int(c) for c in np.clip(base + rng.integers(-14, 15, 3), 0, 255))


def draw_object(obj: SceneObject) -> Image.Image:
    """RGBA layer of the object's box size with the object drawn in it."""
    x1, y1, x2, y2 = obj.box
    w, h = x2 - x1 + 1, y2 - y1 + 1
    rng = np.random.default_rng(obj.variant)
    main = _main_color(obj, rng)
    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    hair = HAIR_COLORS[int(rng.integers(len(HAIR_COLORS)))]
    accent = tuple(int(c) for c in rng.integers(40, 230, 3))
    colors = role_colors(main, skin, hair, accent)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for prim in get_shape(obj.name, obj.pose).prims:
        if not prim.tag or prim.tag == obj.name:
            _draw_prim(draw, prim, w, h, colors[prim.role])
    kind = obj.pattern or _TEXTURE.get(obj.name, "")
    if kind:
        rgba = np.array(layer)
        _overlay(rgba, main, kind, rng)
        layer = Image.fromarray(rgba, "RGBA")
    return ImageOps.mirror(layer) if obj.facing < 0 else layer


def render_scene(scene: Scene, seed: int | Sequence[int], with_extents: bool = False
                 ) -> tuple[Image.Image, list[tuple[int, int, int, int] | None]]:
    """The RGB image of a scene and, if asked, the drawn extent (xyxy) of every object.

    ``seed`` drives the background textures and the pixel noise. Background regions are
    painted as full rectangles, so their extent is their box.
    """
    rng = np.random.default_rng(seed)
    canvas = Image.fromarray(paint_background(scene, rng), "RGB")
    extents: list[tuple[int, int, int, int] | None] = [None] * len(scene.objects)
    order = sorted(range(len(scene.objects)), key=lambda i: (scene.objects[i].depth, i))
    for i in order:
        obj = scene.objects[i]
        if obj.name in _BACKGROUND:
            extents[i] = obj.box
            continue
        layer = draw_object(obj)
        canvas.paste(layer, (obj.box[0], obj.box[1]), layer)
        if with_extents:
            bbox = layer.getchannel("A").getbbox()
            if bbox is not None:
                extents[i] = (obj.box[0] + bbox[0], obj.box[1] + bbox[1],
                              obj.box[0] + bbox[2] - 1, obj.box[1] + bbox[3] - 1)
    pixels = np.asarray(canvas, dtype=np.int16) + rng.integers(-4, 5, (scene.height,
                                                                      scene.width, 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB"), extents
