"""Painting of the background regions (sky, grass, street, water, beach, floor, indoor wall).

Each region has its own colour and texture so that the region classes are learnable: a sky
gradient with clouds, grass with blades, asphalt with lane dashes, water with wave crests,
speckled sand and wooden floor planks.
"""

from __future__ import annotations

import numpy as np

from .scene import Scene

__all__ = ["paint_background"]

_WALLS = ((226, 214, 190), (236, 226, 200), (214, 226, 204), (232, 216, 214))


def _noise(rng: np.random.Generator, h: int, w: int, amp: int) -> np.ndarray:
    return rng.integers(-amp, amp + 1, size=(h, w, 1), dtype=np.int16)


def _sky(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    top = np.array(rng.choice([(96, 150, 226), (120, 170, 235), (80, 130, 210)]), np.float32)
    bottom = np.array((196, 220, 246), np.float32)
    img = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(0, 3))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h * 0.7)
        rx, ry = rng.uniform(18, 40), rng.uniform(6, 12)
        cloud = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1.0
        img[cloud] = (246, 246, 250)
    return img


def _grass(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = np.array(rng.choice([(72, 142, 56), (90, 150, 60), (60, 128, 50)]), np.int16)
    img = base + _noise(rng, h, w, 14)
    blades = rng.random((h, w)) < 0.08
    img[blades] -= 35
    return img


def _street(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    g = int(rng.integers(85, 110))
    img = np.array((g, g, g + 4), np.int16) + _noise(rng, h, w, 6)
    row = int(h * rng.uniform(0.45, 0.65))
    thick = max(2, h // 40)
    phase = int(rng.integers(0, 40))
    dash = ((np.arange(w) + phase) % 40) < 20
    color = (236, 236, 236) if rng.random() < 0.6 else (236, 200, 50)
    img[row: row + thick, dash] = color
    return img


def _water(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = (np.array((40, 96, 160), np.float32) * (1 - t) + np.array((56, 130, 190), np.float32)
           * t).astype(np.int16)
    img = np.broadcast_to(img, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w]
    crest = (np.sin(xx / 5.0 + yy * 1.7 + rng.uniform(0, 6)) > 0.93) & (yy % 5 == 0)
    img[crest] = (190, 220, 240)
    return img + _noise(rng, h, w, 4)


def _beach(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = np.array((226, 202, 146), np.int16) + _noise(rng, h, w, 10)
    img[rng.random((h, w)) < 0.05] -= 40
    return img


def _floor(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = np.array(rng.choice([(156, 108, 66), (176, 130, 84), (128, 86, 52)]), np.int16)
    plank = max(10, w // 14)
    shade = rng.integers(-14, 15, size=w // plank + 2).astype(np.int16)
    cols = shade[np.arange(w) // plank][None, :, None]
    img = base + cols + _noise(rng, h, w, 5)
    img[:, (np.arange(w) % plank) == 0] = base - 50
    return img


_PAINTERS = {"sky": _sky, "grass": _grass, "street": _street, "water": _water,
             "beach": _beach, "floor": _floor}


def paint_background(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """uint8 [H, W, 3] background: sky or wall above the horizon, the ground regions below."""
    img = np.zeros((scene.height, scene.width, 3), np.int16)
    if scene.kind == "indoor":
        wall = np.array(_WALLS[int(rng.integers(len(_WALLS)))], np.int16)
        img[: scene.horizon + 1] = wall + _noise(rng, scene.horizon + 1, scene.width, 3)
        img[max(scene.horizon - 3, 0): scene.horizon + 1] = wall - 60
    for obj in scene.objects:
        painter = _PAINTERS.get(obj.name)
        if painter is not None:
            x1, y1, x2, y2 = obj.box
            img[y1: y2 + 1, x1: x2 + 1] = painter(rng, y2 - y1 + 1, x2 - x1 + 1)
    return np.clip(img, 0, 255).astype(np.uint8)
