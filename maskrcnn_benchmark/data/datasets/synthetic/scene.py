"""A scene before annotation (objects, boxes, true structural links) and the builder that places
things in it with perspective, bounded occlusion and the zero-shot hold-out.

Boxes are integer xyxy with inclusive pixel coordinates (the +1 convention of BoxList).
Depth grows towards the camera: a grounded object's ``contact`` is the image row where it
touches the ground, and things are painted in increasing ``depth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from .annotation import ZERO_SHOT
from .palette import CLASS_COLORS, CLASS_PATTERNS
from .shape_table import get_shape

__all__ = ["SceneObject", "Scene", "SceneBuilder", "MAX_OBJECTS", "MIN_SIDE", "FLAT_POSES",
           "iom", "perched"]

T = TypeVar("T")
MAX_OBJECTS = 15
MIN_SIDE = 14  # shorter box side of stand-alone objects, in pixels
# Poses of things lying on the ground: anything overlapping them would seem to stand on them.
FLAT_POSES = ("lying", "flat")


@dataclass
class SceneObject:
    """One drawn and annotated object."""

    name: str
    box: tuple[int, int, int, int]
    pose: str = ""
    depth: float = 0.0
    color: str = ""
    pattern: str = ""
    facing: int = 1  # 1 = faces right as drawn, -1 = mirrored
    variant: int = 0  # seeds the details the renderer picks (skin, hair, accent colour)
    contact: float | None = None  # ground row of grounded objects (used for proximity)


@dataclass
class Scene:
    """Objects plus the true relations fixed by composition (support, wearing, parts, ...)."""

    kind: str
    width: int
    height: int
    horizon: int
    split: int
    objects: list[SceneObject] = field(default_factory=list)
    links: list[tuple[int, int, str]] = field(default_factory=list)
    salient: set[frozenset[int]] = field(default_factory=set)  # pairs placed close on purpose
    # Links whose true predicate the rest of the scene decides: (subject, object) -> the name
    # of their rule in rules.CONTEXT_RULES. They are always annotated.
    context: dict[tuple[int, int], str] = field(default_factory=dict)


def iom(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over the smaller box's area (+1 pixel convention)."""
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if w <= 0 or h <= 0:
        return 0.0
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return w * h / min(area_a, area_b)


def perched(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether ``a`` (farther, its bottom hidden in ``b``) ends in the top part of ``b``: it
    would look as if standing on ``b``."""
    if a[3] >= b[3] or a[2] < b[0] or b[2] < a[0]:
        return False
    return b[1] <= a[3] < b[1] + 0.4 * (b[3] - b[1] + 1)


class SceneBuilder:
    """Places objects into a ``Scene``; every random choice comes from one generator."""

    def __init__(self, rng: np.random.Generator, kind: str, width: int, height: int,
                 horizon: int, split: int, person_scale: tuple[float, float]) -> None:
        self.rng = rng
        self.scene = Scene(kind, width, height, horizon, split)
        self.person_scale = person_scale
        self.blockers: list[int] = []
        self.flat: set[int] = set()  # lying things: nothing may overlap them on screen

    # ------------------------------------------------------------------ bookkeeping
    @property
    def objects(self) -> list[SceneObject]:
        """Objects placed so far."""
        return self.scene.objects

    def room(self, n: int) -> bool:
        """Whether ``n`` more objects keep the scene within MAX_OBJECTS."""
        return len(self.objects) + n <= MAX_OBJECTS

    def allowed(self, subj: str, truth: str, obj: str) -> bool:
        """False for held-out zero-shot configurations in the training split."""
        return self.scene.split != 0 or (subj, truth, obj) not in ZERO_SHOT

    def chance(self, p: float) -> bool:
        """A biased coin."""
        return bool(self.rng.random() < p)

    def choice(self, options: Sequence[T], p: Sequence[float] | None = None) -> T:
        """One of ``options`` (with probabilities ``p``, normalised)."""
        if p is not None:
            p = np.asarray(p, dtype=np.float64) / np.sum(p)
        return options[int(self.rng.choice(len(options), p=p))]

    def add(self, name: str, box: tuple[int, int, int, int], pose: str = "",
            depth: float | None = None, contact: float | None = None, facing: int | None = None,
            blocks: bool = False) -> int:
        """Add an object with a random colour / pattern of its class; return its index."""
        colors = CLASS_COLORS.get(name, ())
        color = self.choice(colors) if colors else ""
        pattern = ""
        for pat, p in CLASS_PATTERNS.get(name, {}).items():
            if not pattern and self.chance(p):
                pattern = pat
        if facing is None:
            facing = 1 if self.chance(0.5) else -1
        obj = SceneObject(name, tuple(int(c) for c in box), pose,
                          float(box[3] if depth is None else depth), color, pattern, facing,
                          int(self.rng.integers(1 << 30)), contact)
        self.objects.append(obj)
        idx = len(self.objects) - 1
        if blocks:
            self.blockers.append(idx)
            if pose in FLAT_POSES:
                self.flat.add(idx)
        return idx

    def link(self, subj: int, obj: int, truth: str, context: str = "") -> None:
        """Record a true relation fixed by composition (``context``: its context rule)."""
        self.scene.links.append((subj, obj, truth))
        if context:
            self.scene.context[(subj, obj)] = context

    def relink(self, subj: int, obj: int, truth: str) -> None:
        """Change the true predicate of an existing link (its context rule stays)."""
        links = self.scene.links
        k = next(k for k, (s, o, _) in enumerate(links) if (s, o) == (subj, obj))
        links[k] = (subj, obj, truth)

    def checkpoint(self) -> int:
        """A mark to ``rollback`` to: the number of objects placed so far."""
        return len(self.objects)

    def rollback(self, mark: int) -> None:
        """Remove every object placed after ``mark`` and everything that refers to them."""
        s = self.scene
        del s.objects[mark:]
        s.links = [(a, b, t) for a, b, t in s.links if a < mark and b < mark]
        s.salient = {p for p in s.salient if max(p) < mark}
        s.context = {p: c for p, c in s.context.items() if max(p) < mark}
        self.blockers = [i for i in self.blockers if i < mark]
        self.flat = {i for i in self.flat if i < mark}

    # ------------------------------------------------------------------ geometry
    def depth_fraction(self, y: float) -> float:
        """0 at the horizon, 1 at the bottom row."""
        s = self.scene
        return float(np.clip((y - s.horizon) / max(s.height - 1 - s.horizon, 1), 0.0, 1.0))

    def person_height(self, y: float) -> float:
        """Height in pixels of a standing person whose feet are on row ``y``."""
        lo, hi = self.person_scale
        return self.scene.height * (lo + (hi - lo) * self.depth_fraction(y))

    def size(self, name: str, pose: str, height: float) -> tuple[float, float]:
        """(w, h) of a class drawn ``height`` pixels tall in ``pose``."""
        return height * get_shape(name, pose).aspect, height

    def box_at(self, cx: float, bottom: float, w: float, h: float) -> tuple[int, int, int, int]:
        """Integer box of size (w, h) centred on ``cx`` with its last row at ``bottom``."""
        x1 = int(round(cx - w / 2))
        y2 = int(round(bottom))
        return x1, int(round(bottom - h + 1)), x1 + max(int(round(w)) - 1, 1), y2

    def inside(self, box: tuple[int, ...], margin: int = 0) -> bool:
        """Whether the box lies in the image."""
        s = self.scene
        return (box[0] >= margin and box[1] >= margin and box[2] <= s.width - 1 - margin
                and box[3] <= s.height - 1 - margin)

    def free(self, box: tuple[int, ...], max_overlap: float = 0.3,
             ignore: tuple[int, ...] = (), flat: bool = False) -> bool:
        """Whether the box overlaps no placed blocker by more than ``max_overlap`` (IoM).

        A flat box (``flat``) and flat blockers admit no overlap at all, and no box may seem
        to stand on top of another (``perched``), ignored blockers included.
        """
        for i in self.blockers:
            other = self.objects[i].box
            if perched(box, other) or perched(other, box):
                return False
            limit = 0.0 if flat or i in self.flat else max_overlap
            if i not in ignore and iom(box, other) > limit:
                return False
        return True

    def find_spot(self, name: str, pose: str, rel_height: float, y_range: tuple[float, float],
                  x_range: tuple[float, float] | None = None, max_overlap: float = 0.3,
                  tries: int = 25) -> tuple[int, int, int, int] | None:
        """A free box for a grounded object ``rel_height`` person-heights tall, or None."""
        lo, hi = y_range
        for _ in range(tries):
            y = self.rng.uniform(lo, hi)
            w, h = self.size(name, pose, rel_height * self.person_height(y))
            if min(w, h) < MIN_SIDE:
                continue
            xa, xb = x_range if x_range is not None else (0, self.scene.width - 1)
            if xb - xa < w:
                continue
            cx = self.rng.uniform(xa + w / 2, xb - w / 2)
            box = self.box_at(cx, y, w, h)
            if self.inside(box) and self.free(box, max_overlap, flat=pose in FLAT_POSES):
                return box
        return None

    def region_box(self, idx: int, region: tuple[float, float, float, float]
                   ) -> tuple[int, int, int, int]:
        """Pixel box of a normalised region of object ``idx`` (mirrored if it faces left)."""
        obj = self.objects[idx]
        u0, v0, u1, v1 = region
        if obj.facing < 0:
            u0, u1 = 1.0 - u1, 1.0 - u0
        x1, y1, x2, y2 = obj.box
        return (int(round(x1 + u0 * (x2 - x1))), int(round(y1 + v0 * (y2 - y1))),
                int(round(x1 + u1 * (x2 - x1))), int(round(y1 + v1 * (y2 - y1))))

    def anchor(self, idx: int, name: str) -> tuple[float, float]:
        """Pixel position of a named anchor of object ``idx``."""
        obj = self.objects[idx]
        u, v = get_shape(obj.name, obj.pose).anchors[name]
        if obj.facing < 0:
            u = 1.0 - u
        x1, y1, x2, y2 = obj.box
        return x1 + u * (x2 - x1), y1 + v * (y2 - y1)

    def attach_box(self, name: str, pose: str, height: float, point: tuple[float, float],
                   at: tuple[float, float], facing: int) -> tuple[int, int, int, int]:
        """Box of a ``height``-pixel object whose normalised point ``at`` lies on ``point``."""
        w, h = self.size(name, pose, height)
        u, v = at
        if facing < 0:
            u = 1.0 - u
        x1 = int(round(point[0] - u * (w - 1)))
        y1 = int(round(point[1] - v * (h - 1)))
        return x1, y1, x1 + max(int(round(w)) - 1, 1), y1 + max(int(round(h)) - 1, 1)
