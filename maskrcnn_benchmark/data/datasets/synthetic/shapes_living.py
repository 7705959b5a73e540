"""Drawings of people (five poses) and animals. Coordinates are box-normalised (see shapes.py).

People are drawn bare (skin-coloured body); their garments are separate objects drawn on top
of the regions named here. "man" and "woman" share the poses and differ by hair and build.
"""

from __future__ import annotations

from .shapes import PIE, E, L, P, R, Shape

__all__ = ["LIVING_SHAPES", "PERSON_POSES"]


def _head(u0: float, v0: float, u1: float, v1: float) -> list:
    """Head with short (man) or long-topped (woman) hair; the face looks right."""
    return [E(u0, v0, u1, v1, "skin"), PIE(u0, v0, u1, v1, 180, 360, "hair"),
            PIE(u0, v0, u1 - (u1 - u0) * 0.3, v1, 90, 270, "hair", "woman")]


_STANDING = Shape(0.38, tuple([
    P([(0.2, 0.06), (0.8, 0.06), (0.86, 0.34), (0.14, 0.34)], "hair", "woman"),
    R(0.26, 0.54, 0.48, 1.0, "skin"), R(0.52, 0.54, 0.74, 1.0, "skin"),
    R(0.22, 0.96, 0.49, 1.0, "shoe"), R(0.51, 0.96, 0.78, 1.0, "shoe"),
    R(0.22, 0.18, 0.78, 0.58, "skin"),
    P([(0.22, 0.19), (0.31, 0.23), (0.14, 0.54), (0.0, 0.54)], "skin"),
    P([(0.78, 0.19), (0.69, 0.23), (0.86, 0.54), (1.0, 0.54)], "skin"),
    R(0.42, 0.15, 0.58, 0.2, "skin"),
    *_head(0.25, 0.0, 0.75, 0.19),
]), regions={"shirt": (0.08, 0.18, 0.92, 0.58), "pants": (0.24, 0.54, 0.76, 0.965),
             "hat": (0.12, 0.0, 0.88, 0.13)},
    anchors={"hand_back": (0.06, 0.54), "hand_front": (0.94, 0.54)})

_WALKING = Shape(0.5, tuple([
    P([(0.28, 0.06), (0.72, 0.06), (0.77, 0.34), (0.23, 0.34)], "hair", "woman"),
    P([(0.34, 0.54), (0.5, 0.54), (0.2, 1.0), (0.02, 1.0)], "skin"),
    P([(0.5, 0.54), (0.66, 0.54), (0.98, 1.0), (0.8, 1.0)], "skin"),
    R(0.0, 0.96, 0.2, 1.0, "shoe"), R(0.8, 0.96, 1.0, 1.0, "shoe"),
    R(0.29, 0.18, 0.71, 0.58, "skin"),
    P([(0.29, 0.19), (0.38, 0.23), (0.16, 0.5), (0.06, 0.48)], "skin"),
    P([(0.71, 0.19), (0.62, 0.23), (0.86, 0.5), (0.96, 0.48)], "skin"),
    R(0.44, 0.15, 0.56, 0.2, "skin"),
    *_head(0.31, 0.0, 0.69, 0.19),
]), regions={"shirt": (0.12, 0.18, 0.88, 0.58), "pants": (0.0, 0.54, 1.0, 0.965),
             "hat": (0.21, 0.0, 0.79, 0.13)},
    anchors={"hand_back": (0.1, 0.49), "hand_front": (0.91, 0.49)})

_SITTING = Shape(0.75, tuple([
    P([(0.09, 0.06), (0.37, 0.06), (0.39, 0.32), (0.05, 0.32)], "hair", "woman"),
    R(0.0, 0.5, 0.86, 0.62, "skin"), R(0.7, 0.55, 0.86, 0.97, "skin"),
    R(0.7, 0.95, 1.0, 1.0, "shoe"),
    R(0.06, 0.18, 0.4, 0.58, "skin"),
    P([(0.18, 0.2), (0.32, 0.2), (0.66, 0.44), (0.6, 0.5)], "skin"),
    R(0.19, 0.15, 0.29, 0.2, "skin"),
    *_head(0.11, 0.0, 0.37, 0.19),
]), regions={"shirt": (0.03, 0.18, 0.5, 0.58), "pants": (0.0, 0.49, 0.88, 0.965),
             "hat": (0.05, 0.0, 0.43, 0.13)},
    anchors={"hand_front": (0.63, 0.48), "seat": (0.3, 0.62)})

_LYING = Shape(4.0, tuple([
    P([(0.01, 0.2), (0.1, 0.1), (0.24, 0.9), (0.02, 0.9)], "hair", "woman"),
    R(0.54, 0.1, 0.97, 0.42, "skin"), R(0.54, 0.48, 0.97, 0.8, "skin"),
    R(0.95, 0.05, 1.0, 0.45, "shoe"), R(0.95, 0.45, 1.0, 0.85, "shoe"),
    R(0.17, 0.0, 0.56, 0.86, "skin"),
    P([(0.2, 0.76), (0.5, 0.8), (0.5, 1.0), (0.2, 0.98)], "skin"),
    R(0.15, 0.3, 0.2, 0.6, "skin"),
    E(0.0, 0.05, 0.19, 0.81, "skin"), PIE(0.0, 0.05, 0.19, 0.81, 90, 270, "hair"),
]), regions={"shirt": (0.16, 0.0, 0.57, 0.9), "pants": (0.53, 0.08, 0.96, 0.82)},
    anchors={"hand_front": (0.5, 0.9), "seat": (0.5, 1.0)})

_RIDING = Shape(0.55, tuple([
    P([(0.3, 0.06), (0.7, 0.06), (0.76, 0.32), (0.24, 0.32)], "hair", "woman"),
    P([(0.0, 0.54), (0.62, 0.54), (0.9, 0.7), (0.76, 0.8), (0.0, 0.68)], "skin"),
    P([(0.68, 0.7), (0.9, 0.72), (0.74, 1.0), (0.52, 1.0)], "skin"),
    R(0.48, 0.95, 0.82, 1.0, "shoe"),
    R(0.24, 0.18, 0.72, 0.6, "skin"),
    P([(0.56, 0.2), (0.72, 0.2), (1.0, 0.44), (0.94, 0.5)], "skin"),
    R(0.42, 0.15, 0.56, 0.2, "skin"),
    *_head(0.3, 0.0, 0.66, 0.19),
]), regions={"shirt": (0.12, 0.18, 0.84, 0.6), "pants": (0.0, 0.53, 0.92, 0.965),
             "hat": (0.2, 0.0, 0.76, 0.13)},
    anchors={"hand_front": (0.97, 0.47), "seat": (0.3, 0.66)})


def _wading(standing: Shape, cut: float = 0.6) -> Shape:
    """The standing figure cut at the water line: only what is above ``cut`` is drawn."""
    prims = []
    for prim in standing.prims:
        vs = prim.coords[1::2]
        if min(vs) >= cut:
            continue
        coords = tuple(c if i % 2 == 0 else min(c, cut) / cut for i, c in enumerate(prim.coords))
        prims.append(type(prim)(prim.kind, coords, prim.role, prim.width, prim.angles, prim.tag))
    prims.insert(0, R(0.22, 0.9, 0.78, 1.0, "skin"))
    shirt = standing.regions["shirt"]
    hat = standing.regions["hat"]
    return Shape(standing.aspect / cut, tuple(prims),
                 regions={"shirt": (shirt[0], shirt[1] / cut, shirt[2], 1.0),
                          "hat": (hat[0], 0.0, hat[2], hat[3] / cut)},
                 anchors={k: (u, v / cut) for k, (u, v) in standing.anchors.items()})


PERSON_POSES = {"standing": _STANDING, "walking": _WALKING, "sitting": _SITTING,
                "lying": _LYING, "riding": _RIDING, "wading": _wading(_STANDING)}

_DOG = Shape(1.5, (
    P([(0.12, 0.38), (0.2, 0.36), (0.04, 0.06), (0.0, 0.08)], "main"),
    R(0.2, 0.55, 0.29, 1.0, "dark"), R(0.33, 0.55, 0.42, 1.0, "main"),
    R(0.6, 0.55, 0.69, 1.0, "dark"), R(0.72, 0.55, 0.81, 1.0, "main"),
    E(0.12, 0.28, 0.86, 0.72, "main"),
    E(0.66, 0.02, 0.94, 0.42, "main"), E(0.84, 0.18, 1.0, 0.36, "light"),
    E(0.94, 0.18, 1.0, 0.27, "black"),
    P([(0.68, 0.0), (0.78, 0.04), (0.72, 0.32), (0.64, 0.22)], "dark"),
    E(0.8, 0.1, 0.85, 0.17, "black"),
))
_DOG_LYING = Shape(2.4, (
    P([(0.0, 0.68), (0.12, 0.62), (0.12, 0.78), (0.0, 0.86)], "main"),
    E(0.05, 0.35, 0.78, 1.0, "main"),
    R(0.62, 0.82, 1.0, 1.0, "light"),
    E(0.66, 0.0, 0.9, 0.62, "main"), E(0.84, 0.26, 1.0, 0.52, "light"),
    E(0.96, 0.26, 1.0, 0.36, "black"),
    P([(0.68, 0.0), (0.74, 0.02), (0.71, 0.4), (0.65, 0.3)], "dark"),
    E(0.8, 0.14, 0.83, 0.24, "black"),
))
_CAT = Shape(1.4, (
    P([(0.14, 0.42), (0.2, 0.4), (0.06, 0.0), (0.0, 0.02)], "main"),
    R(0.2, 0.6, 0.27, 1.0, "main"), R(0.31, 0.6, 0.38, 1.0, "dark"),
    R(0.62, 0.6, 0.69, 1.0, "main"), R(0.73, 0.6, 0.8, 1.0, "dark"),
    E(0.14, 0.38, 0.84, 0.76, "main"),
    E(0.66, 0.12, 1.0, 0.5, "main"),
    P([(0.68, 0.24), (0.7, 0.0), (0.8, 0.16)], "main"),
    P([(0.86, 0.16), (0.96, 0.0), (0.98, 0.24)], "main"),
    E(0.76, 0.24, 0.82, 0.32, "eye"), E(0.88, 0.24, 0.94, 0.32, "eye"),
    P([(0.84, 0.36), (0.88, 0.36), (0.86, 0.4)], "pink"),
))
_CAT_LYING = Shape(2.0, (
    P([(0.0, 0.8), (0.2, 0.74), (0.2, 0.9), (0.0, 0.96)], "main"),
    E(0.06, 0.3, 0.8, 1.0, "main"),
    E(0.64, 0.12, 1.0, 0.72, "main"),
    P([(0.66, 0.3), (0.69, 0.0), (0.78, 0.2)], "main"),
    P([(0.86, 0.2), (0.96, 0.0), (0.99, 0.3)], "main"),
    E(0.74, 0.34, 0.8, 0.44, "eye"), E(0.87, 0.34, 0.93, 0.44, "eye"),
))
_HORSE = Shape(1.25, (
    P([(0.12, 0.3), (0.18, 0.32), (0.06, 0.64), (0.0, 0.62)], "dark"),
    R(0.18, 0.55, 0.26, 1.0, "dark"), R(0.3, 0.55, 0.38, 1.0, "main"),
    R(0.62, 0.55, 0.7, 1.0, "dark"), R(0.74, 0.55, 0.82, 1.0, "main"),
    R(0.18, 0.95, 0.26, 1.0, "black"), R(0.3, 0.95, 0.38, 1.0, "black"),
    R(0.62, 0.95, 0.7, 1.0, "black"), R(0.74, 0.95, 0.82, 1.0, "black"),
    E(0.1, 0.25, 0.85, 0.65, "main"),
    P([(0.64, 0.36), (0.76, 0.08), (0.9, 0.1), (0.84, 0.46)], "main"),
    P([(0.76, 0.02), (0.92, 0.0), (1.0, 0.2), (0.95, 0.27), (0.8, 0.18)], "main"),
    P([(0.72, 0.06), (0.8, 0.02), (0.7, 0.38), (0.62, 0.34)], "dark"),
    E(0.86, 0.06, 0.9, 0.1, "black"),
), anchors={"seat": (0.46, 0.27), "handle": (0.88, 0.42)})
_BIRD_FLYING = Shape(1.6, (
    P([(0.3, 0.46), (0.52, 0.46), (0.34, 0.0), (0.2, 0.02)], "dark"),
    P([(0.0, 0.46), (0.26, 0.52), (0.26, 0.66), (0.0, 0.76)], "dark"),
    E(0.2, 0.38, 0.78, 0.78, "main"),
    E(0.64, 0.26, 0.9, 0.62, "main"),
    P([(0.88, 0.38), (1.0, 0.45), (0.88, 0.52)], "beak"),
    P([(0.38, 0.6), (0.58, 0.6), (0.5, 1.0), (0.36, 0.96)], "light"),
    E(0.76, 0.36, 0.81, 0.44, "black"),
))
_BIRD_PERCHED = Shape(1.0, (
    P([(0.0, 0.58), (0.2, 0.5), (0.24, 0.66), (0.02, 0.76)], "dark"),
    L([(0.42, 0.76), (0.4, 1.0)], 0.06, "beak"), L([(0.56, 0.76), (0.58, 1.0)], 0.06, "beak"),
    E(0.12, 0.28, 0.78, 0.84, "main"),
    E(0.5, 0.0, 0.88, 0.4, "main"),
    P([(0.86, 0.14), (1.0, 0.22), (0.86, 0.3)], "beak"),
    E(0.66, 0.12, 0.73, 0.2, "black"),
    E(0.24, 0.38, 0.6, 0.7, "dark"),
))

LIVING_SHAPES: dict[tuple[str, str], Shape] = {
    **{(person, pose): shape for person in ("man", "woman")
       for pose, shape in PERSON_POSES.items()},
    ("dog", "standing"): _DOG, ("dog", "lying"): _DOG_LYING,
    ("cat", "standing"): _CAT, ("cat", "lying"): _CAT_LYING,
    ("horse", "standing"): _HORSE,
    ("bird", "flying"): _BIRD_FLYING, ("bird", "perched"): _BIRD_PERCHED,
}
