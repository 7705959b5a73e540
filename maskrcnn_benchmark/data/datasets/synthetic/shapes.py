"""Drawings of the object classes, as data: primitives in box-normalised coordinates.

A ``Shape`` is drawn into its object's box: (0, 0) is the top-left pixel, (1, 1) the
bottom-right one, and every shape touches all four sides, so the drawn pixels span exactly the
annotated box (the tests check it). ``regions`` place attached objects (a shirt on a person, a
wheel on a car) and ``anchors`` place other things (a rider's seat on a horse's back). Shapes face
right; the renderer mirrors objects that face left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Prim", "Shape", "E", "R", "P", "L", "PIE", "RING"]


@dataclass(frozen=True)
class Prim:
    """One drawing primitive; ``role`` names its colour (see palette.py)."""

    kind: str  # ellipse, rect, poly, line, pie, ring
    coords: tuple[float, ...]
    role: str
    width: float = 0.0  # line / ring width as a fraction of the box's shorter side
    angles: tuple[float, float] = (0.0, 360.0)
    tag: str = ""  # draw only for this class (e.g. long hair for "woman")


@dataclass(frozen=True)
class Shape:
    """How a class looks in one pose: aspect ratio (w / h), primitives, regions and anchors."""

    aspect: float
    prims: tuple[Prim, ...]
    regions: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    anchors: dict[str, tuple[float, float]] = field(default_factory=dict)


def E(u0: float, v0: float, u1: float, v1: float, role: str, tag: str = "") -> Prim:
    """Filled ellipse in the box (u0, v0, u1, v1)."""
    return Prim("ellipse", (u0, v0, u1, v1), role, tag=tag)


def R(u0: float, v0: float, u1: float, v1: float, role: str, tag: str = "") -> Prim:
    """Filled rectangle."""
    return Prim("rect", (u0, v0, u1, v1), role, tag=tag)


def P(points: list[tuple[float, float]], role: str, tag: str = "") -> Prim:
    """Filled polygon."""
    return Prim("poly", tuple(c for p in points for c in p), role, tag=tag)


def L(points: list[tuple[float, float]], width: float, role: str) -> Prim:
    """Polyline of the given width."""
    return Prim("line", tuple(c for p in points for c in p), role, width=width)


def PIE(u0: float, v0: float, u1: float, v1: float, start: float, end: float, role: str,
        tag: str = "") -> Prim:
    """Filled pie slice of the ellipse in (u0, v0, u1, v1) between two angles (degrees)."""
    return Prim("pie", (u0, v0, u1, v1), role, angles=(start, end), tag=tag)


def RING(u0: float, v0: float, u1: float, v1: float, width: float, role: str) -> Prim:
    """Ellipse outline of the given width."""
    return Prim("ring", (u0, v0, u1, v1), role, width=width)
