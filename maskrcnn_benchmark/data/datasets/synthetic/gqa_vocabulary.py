"""Words of the GQA-format synthetic data set: object names, predicate words, annotation rates.

The pictures are those of the VG150-style benchmark (same scenes, same pixels for a seed); only
the annotation differs, in the way GQA's differs from VG's: more object names (each decided by
what is visible: a blue pair of pants is "jeans", a yellow car a "taxi", a person on a
surfboard a "surfer", every person's head is an object), GQA's predicate words (spatial
"to the left of" / "to the right of", "on top of", "below", "beside") and denser graphs (most
true relations are written down, plus left/right relations between unrelated things).
"""

from __future__ import annotations

from .vocabulary import OBJECT_CLASSES, PERSON

__all__ = ["GQA_OBJECT_NAMES", "GQA_PREDICATES", "GQA_WORDS", "GQA_RATE", "PERSON_SYNONYM",
           "PERSON_SYNONYM_RATE", "DARK_COLORS", "CAP_COLORS", "LEFT", "RIGHT", "BELOW",
           "MIN_HEAD_SIDE", "MAX_GQA_RELATIONS", "renamed_object"]

LEFT, RIGHT, BELOW = "to the left of", "to the right of", "below"
# The annotator writes "person" for a man or woman this often (GQA's synonym noise).
PERSON_SYNONYM = "person"
PERSON_SYNONYM_RATE = 0.1
# Shirts in these colours are written "jacket", hats in these "cap".
DARK_COLORS = ("black", "brown", "gray")
CAP_COLORS = ("blue", "red")
# Heads smaller than this (pixels, shorter side) are not annotated.
MIN_HEAD_SIDE = 5
MAX_GQA_RELATIONS = 48

# Word distribution of each true predicate (the scene's truth; see relations.py).
GQA_WORDS: dict[str, dict[str, float]] = {
    "standing on": {"standing on": 0.55, "on": 0.45},
    "walking on": {"walking on": 0.7, "on": 0.3},
    "sitting on": {"sitting on": 0.8, "on": 0.2},
    "lying on": {"lying on": 0.8, "on": 0.2},
    "parked on": {"parked on": 0.7, "on": 0.3},
    "riding": {"riding": 0.9, "on": 0.1},
    "on": {"on": 0.75, "on top of": 0.25},
    "in": {"in": 1.0},
    "flying in": {"flying in": 0.6, "in": 0.4},
    "wearing": {"wearing": 0.9, "in": 0.1},
    "holding": {"holding": 1.0},
    "carrying": {"carrying": 0.6, "holding": 0.4},
    "has": {"has": 1.0},
    "part of": {"of": 0.8, "on": 0.2},
    "above": {"above": 1.0},
    "under": {"under": 0.7, "below": 0.3},
    "next to": {"next to": 0.6, "beside": 0.25, "near": 0.15},
    "in front of": {"in front of": 1.0},
    "behind": {"behind": 1.0},
    "near": {"near": 1.0},
    LEFT: {LEFT: 1.0},
    RIGHT: {RIGHT: 1.0},
    BELOW: {BELOW: 1.0},
}
GQA_PREDICATES = tuple(sorted({w for words in GQA_WORDS.values() for w in words}))

# Probability that a true relation is written down: scene links, proximity relations (per
# unordered pair), the converse "below" of an "above", and left/right (per unordered pair of
# otherwise unrelated things, then written in both directions).
GQA_RATE = {"link": 0.9, "proximity": 0.6, "both_directions": 0.3, "below": 0.5,
            "left_right": 0.45}

# Names of the VG-style classes kept or renamed whatever the context.
_RENAME = {"bike": "bicycle", "beach": "sand"}
_CONTEXT_NAMES = ("cap", "head", "jacket", "jeans", "person", "purse", "rider", "surfer",
                  "taxi")


GQA_OBJECT_NAMES = tuple(sorted({_RENAME.get(name, name) for name in OBJECT_CLASSES}
                                | set(_CONTEXT_NAMES)))


def renamed_object(name: str, color: str, ridden: str | None, held_by_woman: bool,
                   synonym: bool) -> str:
    """The GQA name of a VG-style object from what is visible: its colour, what it rides,
    whether a woman holds or carries it, and the annotator's synonym draw (people only)."""
    if name in PERSON:
        if ridden == "surfboard":
            return "surfer"
        if ridden is not None:
            return "rider"
        return PERSON_SYNONYM if synonym else name
    if name == "pants" and color == "blue":
        return "jeans"
    if name == "shirt" and color in DARK_COLORS:
        return "jacket"
    if name == "hat" and color in CAP_COLORS:
        return "cap"
    if name == "car" and color == "yellow":
        return "taxi"
    if name == "bag" and held_by_woman:
        return "purse"
    return _RENAME.get(name, name)
