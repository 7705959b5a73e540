"""Lookup of the drawing of a class in a pose (the tables live in shapes_living / shapes_things)."""

from __future__ import annotations

from .shapes import Shape
from .shapes_living import LIVING_SHAPES
from .shapes_things import THING_SHAPES

__all__ = ["SHAPES", "get_shape"]

SHAPES: dict[tuple[str, str], Shape] = {**LIVING_SHAPES, **THING_SHAPES}


def get_shape(name: str, pose: str) -> Shape:
    """The shape of class ``name`` in ``pose``; classes with one look use it for every pose."""
    shape = SHAPES.get((name, pose)) or SHAPES.get((name, ""))
    if shape is None:
        raise KeyError(f"no shape for class {name!r} in pose {pose!r}")
    return shape
