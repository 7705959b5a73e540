"""The GQA-style annotation of a synthetic scene: objects (with heads), names and dense relations.

A scene composed for the VG150-style benchmark (``records.synthesize_image``) is annotated a
second time, from its own generator, with the GQA words of ``gqa_vocabulary``. True relations
come from the same places as in ``relations.py`` (the composition's links and the visible
proximity and "above" relations), plus the links of each person's head (part of the person, a
worn hat on it) and "to the left of" / "to the right of" between things that are otherwise
unrelated, side by side on screen. Every written relation is true in the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .gqa_vocabulary import (
    BELOW,
    GQA_RATE,
    GQA_WORDS,
    LEFT,
    MAX_GQA_RELATIONS,
    MIN_HEAD_SIDE,
    PERSON_SYNONYM_RATE,
    RIGHT,
    renamed_object,
)
from .records import SyntheticImage
from .relations import geometric_relations
from .scene import Scene, SceneObject
from .shape_table import get_shape
from .vocabulary import CLOTHING, GROUND, PART, PERSON, SKY

__all__ = ["GQAObject", "GQAImage", "head_box", "annotate_gqa", "GQA_STREAM"]

GQA_STREAM = 7  # third seed word of the annotation generator: (seed, index, GQA_STREAM)
_LOCATION = {"street": "street", "park": "park", "beach": "beach", "indoor": "room"}
_STATES = ("standing", "walking", "sitting", "lying", "parked", "flying")
# Neither side of a left/right relation: stuff, parts inside their whole, heads, worn clothes.
_NOT_SIDE_BY_SIDE = set(GROUND + SKY + PART + CLOTHING)


@dataclass
class GQAObject:
    """One annotated object: GQA name, inclusive xyxy pixel box, attribute words."""

    name: str
    box: tuple[int, int, int, int]
    attributes: list[str] = field(default_factory=list)
    source: str = ""  # the VG-style class it was drawn as ("head" for heads)


@dataclass
class GQAImage:
    """An image's GQA-style scene graph; relations are (subject, object, word) by object index,
    ``truths`` the true predicate of each."""

    image_id: int
    width: int
    height: int
    split: int  # 0: train_sceneGraphs.json, 2: val_sceneGraphs.json
    location: str
    objects: list[GQAObject]
    relations: list[tuple[int, int, str]]
    truths: list[str]


def head_box(obj: SceneObject) -> tuple[int, int, int, int] | None:
    """Extent of a person's drawn head (the skin ellipse of its shape), None if not a person."""
    if obj.name not in PERSON:
        return None
    shape = get_shape(obj.name, obj.pose)
    head = next((p for p in shape.prims
                 if p.kind == "ellipse" and p.role == "skin" and not p.tag), None)
    if head is None:
        return None
    x1, y1, x2, y2 = obj.box
    w, h = x2 - x1 + 1, y2 - y1 + 1
    u0, v0, u1, v1 = head.coords
    layer = Image.new("L", (w, h), 0)
    # The renderer's scaling (render._scaled): box-normalised coordinates times (size - 1).
    ImageDraw.Draw(layer).ellipse([u0 * (w - 1), v0 * (h - 1), u1 * (w - 1), v1 * (h - 1)],
                                  fill=255)
    if obj.facing < 0:
        layer = ImageOps.mirror(layer)
    bbox = layer.getbbox()
    if bbox is None:
        return None
    return x1 + bbox[0], y1 + bbox[1], x1 + bbox[2] - 1, y1 + bbox[3] - 1


def _attributes(obj: SceneObject) -> list[str]:
    """Colour, pattern and state words (a garment's pose is its wearer's: no state)."""
    state = "flying" if obj.name == "kite" else (obj.pose if obj.pose in _STATES else "")
    state = "" if obj.name in CLOTHING else state
    return [a for a in (obj.color, obj.pattern, state) if a]


def _objects(scene: Scene, rng: np.random.Generator) -> tuple[list[GQAObject], dict[int, int]]:
    """Renamed scene objects (same order) then heads; and person index -> head index."""
    ridden = {s: scene.objects[o].name for s, o, t in scene.links if t == "riding"}
    held_by_woman = {o for s, o, t in scene.links
                     if t in ("holding", "carrying") and scene.objects[s].name == "woman"}
    objects = []
    for i, obj in enumerate(scene.objects):
        synonym = obj.name in PERSON and bool(rng.random() < PERSON_SYNONYM_RATE)
        name = renamed_object(obj.name, obj.color, ridden.get(i), i in held_by_woman, synonym)
        objects.append(GQAObject(name, obj.box, _attributes(obj), obj.name))
    heads = {}
    for i, obj in enumerate(scene.objects):
        box = head_box(obj)
        if box is not None and min(box[2] - box[0], box[3] - box[1]) + 1 >= MIN_HEAD_SIDE:
            heads[i] = len(objects)
            objects.append(GQAObject("head", box, [], "head"))
    return objects, heads


def _side_by_side(a: tuple[int, ...], b: tuple[int, ...]) -> str | None:
    """LEFT when ``a`` lies wholly left of ``b`` with overlapping rows, RIGHT for the mirror
    case, None otherwise."""
    if min(a[3], b[3]) < max(a[1], b[1]):
        return None
    if a[2] < b[0]:
        return LEFT
    if b[2] < a[0]:
        return RIGHT
    return None


def _true_relations(scene: Scene, heads: dict[int, int]) -> tuple[list, list, list]:
    """(links, proximity pairs, above relations) of the scene as (subject, object, truth)."""
    links = list(scene.links)
    worn_by = {o: s for s, o, t in scene.links if t == "wearing"}
    for person, head in heads.items():
        links.append((head, person, "part of"))
    for garment, person in worn_by.items():
        if scene.objects[garment].name in ("hat", "helmet") and person in heads:
            links.append((garment, heads[person], "on"))
    geometric = geometric_relations(scene)
    above = [r for r in geometric if r[2] == "above"]
    proximity = [r for r in geometric if r[2] != "above"]
    return links, proximity, above


def _word(rng: np.random.Generator, truth: str) -> str:
    words = GQA_WORDS[truth]
    p = np.array(list(words.values()), dtype=np.float64)
    return list(words)[int(rng.choice(len(words), p=p / p.sum()))]


def annotate_gqa(image: SyntheticImage, seed: int) -> GQAImage:
    """The GQA-style annotation of a synthetic image, drawn from (seed, index, GQA_STREAM)."""
    scene = image.scene
    rng = np.random.default_rng([seed, image.image_id - 1, GQA_STREAM])
    objects, heads = _objects(scene, rng)
    links, proximity, above = _true_relations(scene, heads)
    chosen: dict[tuple[int, int], str] = {}
    required: list[tuple[int, int]] = []

    def write(s: int, o: int, truth: str, is_link: bool = False) -> None:
        if (s, o) not in chosen and s != o:
            chosen[(s, o)] = truth
            if is_link:
                required.append((s, o))

    for s, o, truth in links:
        if rng.random() < GQA_RATE["link"]:
            if truth == "part of" and rng.random() < 0.5:
                write(o, s, "has", True)
            else:
                write(s, o, truth, True)
    for s, o, truth in above:
        if rng.random() < GQA_RATE["link"]:
            write(s, o, truth)
            if rng.random() < GQA_RATE["below"]:
                write(o, s, BELOW)
    by_pair = {(s, o): t for s, o, t in proximity}
    for s, o, truth in proximity:
        if s < o and rng.random() < GQA_RATE["proximity"]:
            both = rng.random() < GQA_RATE["both_directions"]
            forward = rng.random() < 0.5
            if both or forward:
                write(s, o, truth)
            if both or not forward:
                write(o, s, by_pair[(o, s)])
    related = {frozenset(p) for p in [*chosen, *((s, o) for s, o, _ in links),
                                      *((s, o) for s, o, _ in proximity)]}
    sides = [i for i, obj in enumerate(objects)
             if obj.source not in _NOT_SIDE_BY_SIDE and obj.source != "head"]
    for k, i in enumerate(sides):
        for j in sides[k + 1:]:
            side = _side_by_side(objects[i].box, objects[j].box)
            if side is None or frozenset((i, j)) in related:
                continue
            if rng.random() < GQA_RATE["left_right"]:
                write(i, j, side)
                write(j, i, RIGHT if side == LEFT else LEFT)
    pairs = list(chosen)
    if len(pairs) > MAX_GQA_RELATIONS:
        keep = [p for p in pairs if p in set(required)]
        rest = [p for p in pairs if p not in set(required)]
        order = sorted(rng.permutation(len(rest))[: max(MAX_GQA_RELATIONS - len(keep), 0)])
        pairs = keep + [rest[k] for k in order]
    relations = [(s, o, _word(rng, chosen[(s, o)])) for s, o in pairs]
    return GQAImage(image.image_id, scene.width, scene.height, scene.split,
                    _LOCATION.get(scene.kind, scene.kind), objects, relations,
                    [chosen[p] for p in pairs])
