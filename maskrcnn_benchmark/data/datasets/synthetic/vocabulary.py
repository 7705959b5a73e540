"""Names of the synthetic benchmark: object classes, predicates, attributes, class groups, presets.

Classes and predicates are VG150 words, indexed alphabetically from 1 as in VG150. The class
groups below are the single source used by the scene composer, the rules and the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "OBJECT_CLASSES", "PREDICATES", "ATTRIBUTES", "PERSON", "ANIMAL", "VEHICLE", "CLOTHING",
    "HANDHELD", "FURNITURE", "PART", "FIXED", "GROUND", "SKY", "RIDEABLE", "SEAT", "HANDLED",
    "PART_WHOLES",
    "GROUP_OF", "Preset", "PRESETS", "class_index", "predicate_index", "attribute_index",
]

PERSON = ("man", "woman")
ANIMAL = ("bird", "cat", "dog", "horse")
VEHICLE = ("bike", "boat", "bus", "car", "motorcycle")
CLOTHING = ("hat", "helmet", "pants", "shirt")
HANDHELD = ("bag", "cup", "kite", "surfboard", "umbrella")
FURNITURE = ("bed", "bench", "chair", "table")
PART = ("wheel", "window")
FIXED = ("building", "tree")
GROUND = ("beach", "floor", "grass", "street", "water")
SKY = ("sky",)

# Things a person can ride, and things a person can sit on.
RIDEABLE = ("bike", "horse", "motorcycle", "surfboard")
SEAT = ("bed", "bench", "chair")
# Things one person at a time rides, sits on or leads by hand (a horse by the bridle, a bike by
# the handlebar, a chair by its back).
HANDLED = ("bike", "chair", "horse", "motorcycle")
# Which wholes each part class may belong to.
PART_WHOLES = {"wheel": ("bus", "car"), "window": ("building",)}

GROUP_OF = {
    name: group
    for group, names in (
        ("person", PERSON), ("animal", ANIMAL), ("vehicle", VEHICLE), ("clothing", CLOTHING),
        ("handheld", HANDHELD), ("furniture", FURNITURE), ("part", PART), ("fixed", FIXED),
        ("ground", GROUND), ("sky", SKY),
    )
    for name in names
}

OBJECT_CLASSES = tuple(sorted(GROUP_OF))

PREDICATES = (
    "above", "behind", "carrying", "flying in", "has", "holding", "in", "in front of",
    "lying on", "near", "next to", "of", "on", "parked on", "part of", "riding", "sitting on",
    "standing on", "under", "walking on", "wearing",
)

COLOR_NAMES = ("black", "blue", "brown", "gray", "green", "orange", "pink", "red", "white",
               "yellow")
ATTRIBUTES = COLOR_NAMES + ("striped", "dotted", "standing", "walking", "sitting", "lying",
                            "parked", "flying")

_CLASS_INDEX = {name: i + 1 for i, name in enumerate(OBJECT_CLASSES)}
_PREDICATE_INDEX = {name: i + 1 for i, name in enumerate(PREDICATES)}
_ATTRIBUTE_INDEX = {name: i + 1 for i, name in enumerate(ATTRIBUTES)}


def class_index(name: str) -> int:
    """1-based VG150-style index of an object class."""
    return _CLASS_INDEX[name]


def predicate_index(name: str) -> int:
    """1-based index of a predicate."""
    return _PREDICATE_INDEX[name]


def attribute_index(name: str) -> int:
    """1-based index of an attribute."""
    return _ATTRIBUTE_INDEX[name]


@dataclass(frozen=True)
class Preset:
    """Size of a generated data set: image count and the fraction of images in the test split."""

    name: str
    num_images: int
    test_fraction: float = 0.3


PRESETS = {
    "tiny": Preset("tiny", 64),
    "small": Preset("small", 1500),
    "default": Preset("default", 6000),
}
