"""Colours: which colour names each class comes in, and the RGB of every drawing role."""

from __future__ import annotations

__all__ = ["COLOR_RGB", "CLASS_COLORS", "CLASS_PATTERNS", "ROLE_RGB", "SKIN_TONES",
           "HAIR_COLORS", "role_colors"]

COLOR_RGB = {
    "black": (32, 32, 36), "blue": (40, 80, 190), "brown": (125, 78, 42),
    "gray": (128, 128, 132), "green": (50, 140, 60), "orange": (235, 130, 30),
    "pink": (235, 130, 170), "red": (200, 35, 35), "white": (236, 236, 236),
    "yellow": (235, 205, 40),
}

# Colour names each class is drawn in (also its colour attribute); absent = no colour attribute.
CLASS_COLORS = {
    "shirt": ("red", "blue", "white", "green", "yellow", "black", "orange", "pink", "gray"),
    "pants": ("blue", "black", "brown", "gray"),
    "hat": ("red", "blue", "black", "white", "yellow", "brown"),
    "helmet": ("white", "red", "black", "blue", "yellow"),
    "dog": ("brown", "black", "white", "yellow"), "cat": ("gray", "orange", "black", "white"),
    "horse": ("brown", "black", "white", "gray"), "bird": ("black", "white", "blue", "red"),
    "car": ("red", "blue", "white", "black", "gray", "yellow", "green"),
    "bus": ("yellow", "red", "blue", "white", "green"),
    "bike": ("red", "blue", "black", "green", "yellow"),
    "motorcycle": ("red", "black", "blue", "orange"), "boat": ("white", "red", "blue", "yellow"),
    "table": ("brown", "white", "black"), "chair": ("brown", "red", "black", "blue"),
    "bench": ("brown", "green"), "bed": ("blue", "red", "green", "pink"), "tree": ("green",),
    "building": ("gray", "brown", "red", "white", "yellow"), "wheel": ("black",),
    "umbrella": ("red", "blue", "yellow", "green", "pink", "orange"),
    "bag": ("brown", "black", "red", "blue"), "cup": ("white", "red", "blue", "yellow"),
    "kite": ("red", "yellow", "blue", "green", "orange", "pink"),
    "surfboard": ("white", "yellow", "red", "blue", "orange"),
    "sky": ("blue",), "grass": ("green",), "street": ("gray",), "water": ("blue",),
    "beach": ("yellow",), "floor": ("brown",),
}

# Attribute patterns (probability of each) drawn over the class's main colour.
CLASS_PATTERNS = {
    "shirt": {"striped": 0.25, "dotted": 0.1}, "umbrella": {"striped": 0.5},
    "cat": {"striped": 0.5}, "bag": {"dotted": 0.2}, "bed": {"striped": 0.3},
}

ROLE_RGB = {
    "black": (25, 25, 25), "white": (242, 242, 242), "gray": (140, 140, 144),
    "glass": (55, 75, 98), "lamp": (250, 240, 170), "red": (210, 30, 30), "tyre": (28, 28, 28),
    "hub": (172, 172, 178), "wood": (115, 75, 40), "metal": (88, 88, 96),
    "pillow": (246, 246, 236), "pane": (150, 200, 236), "yellow": (232, 200, 40),
    "eye": (120, 200, 80), "pink": (230, 140, 160), "beak": (240, 160, 30),
    "shoe": (52, 36, 26),
}
SKIN_TONES = ((240, 200, 170), (226, 182, 142), (192, 142, 102), (142, 96, 66), (98, 66, 46))
HAIR_COLORS = ((30, 25, 20), (92, 60, 30), (205, 172, 92), (124, 52, 26), (150, 150, 150))


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))


def role_colors(main: tuple[int, int, int], skin: tuple[int, int, int],
                hair: tuple[int, int, int], accent: tuple[int, int, int]) -> dict:
    """RGB of every role for one object with the given main / skin / hair / accent colours."""
    colors = dict(ROLE_RGB)
    colors.update(main=main, dark=_mix(main, (0, 0, 0), 0.4), light=_mix(main, (255, 255, 255),
                                                                          0.45),
                  skin=skin, hair=hair, accent=accent)
    return colors
