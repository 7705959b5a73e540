"""True relations of a composed scene and their annotation.

Besides the links fixed by composition (support, wearing, parts, ...), pairs of grounded
objects get a proximity relation decided by what is visible: the closer object (lower ground
contact, painted over the other) is "in front of" the farther one when they overlap on screen;
objects side by side at the same depth are "next to" each other; other close pairs are "near".
Pairs in the margins between those cases get no relation, so every true relation is decidable
from the picture. A flying bird or kite is "above" the things right under it.
"""

from __future__ import annotations

import math

import numpy as np

from .annotation import ANNOTATION_RATE, label_distribution, sample_label
from .rules import GROUP_RULES, ConstraintState
from .scene import Scene, SceneObject
from .vocabulary import ANIMAL, FURNITURE, GROUND, PERSON, RIDEABLE, SKY, VEHICLE

__all__ = ["MAX_RELATIONS", "proximity", "geometric_relations", "annotate"]

MAX_RELATIONS = 20
_SALIENT_PARTNERS = RIDEABLE + FURNITURE + VEHICLE + ANIMAL
_EXACT = {rule.name for rule in GROUP_RULES if rule.exact}


def proximity(a: SceneObject, b: SceneObject, band: float) -> tuple[str, str] | None:
    """True proximity predicates of (a, b) and (b, a), or None when unrelated or ambiguous."""
    ax1, _, ax2, ay2 = a.box
    bx1, _, bx2, by2 = b.box
    depth = (a.contact - b.contact) / band
    # Riders and things on furniture stand higher than their ground row: no depth order.
    elevated = a.contact != ay2 or b.contact != by2
    wa, wb = ax2 - ax1 + 1, bx2 - bx1 + 1
    x_overlap = max(0, min(ax2, bx2) - max(ax1, bx1) + 1) / min(wa, wb)
    ref = (a.box[3] - a.box[1] + b.box[3] - b.box[1] + 2) / 2
    gap = max(0, max(ax1, bx1) - min(ax2, bx2)) / ref
    if x_overlap >= 0.2:
        if abs(depth) >= 0.1:
            if elevated:
                return None
            return ("in front of", "behind") if depth > 0 else ("behind", "in front of")
        if abs(depth) <= 0.05:
            return "next to", "next to"
        return None
    if abs(depth) <= 0.05 and gap <= 0.5:
        return "next to", "next to"
    if abs(depth) < 0.08 and gap < 0.7:
        return None
    dist = math.hypot((ax1 + ax2 - bx1 - bx2) / 2, (a.box[1] + ay2 - b.box[1] - by2) / 2) / ref
    if dist <= 1.5 and abs(depth) <= 0.3:
        return "near", "near"
    return None


def geometric_relations(scene: Scene) -> list[tuple[int, int, str]]:
    """Proximity relations between grounded objects and "above" from flying things."""
    objs = scene.objects
    linked = {frozenset((s, o)) for s, o, _ in scene.links}
    band = max(scene.height - 1 - scene.horizon, 1)
    grounded = [i for i, o in enumerate(objs)
                if o.contact is not None and o.name not in GROUND + SKY]
    out = []
    for k, i in enumerate(grounded):
        for j in grounded[k + 1:]:
            if frozenset((i, j)) in linked:
                continue
            rel = proximity(objs[i], objs[j], band)
            if rel is not None:
                out.append((i, j, rel[0]))
                out.append((j, i, rel[1]))
    flyers = [i for i, o in enumerate(objs) if o.pose == "flying" or o.name == "kite"]
    for f in flyers:
        fb = objs[f].box
        for j in grounded:
            gb = objs[j].box
            overlap = min(fb[2], gb[2]) - max(fb[0], gb[0]) + 1
            if fb[3] < gb[1] - 2 and overlap >= 0.3 * (fb[2] - fb[0] + 1):
                out.append((f, j, "above"))
    return out


def _proximity_rate(scene: Scene, i: int, j: int) -> float:
    names = {scene.objects[i].name, scene.objects[j].name}
    if frozenset((i, j)) in scene.salient:
        return 0.7
    if names & set(PERSON) and names & set(_SALIENT_PARTNERS):
        return 0.35
    return 0.12


def _required(scene: Scene, state: ConstraintState, s: int, o: int, truth: str) -> bool:
    """Whether a link is always annotated: an "exactly one" scene rule counts it (whichever
    word the annotator writes), its predicate is decided by the scene (a context rule), or its
    annotation rate is 1."""
    if (s, o) in scene.context or ANNOTATION_RATE.get(truth, 0.0) >= 1.0:
        return True
    names = state.classes
    return any(key[0] in _EXACT for label in label_distribution(truth, names[s], names[o])
               for key in state.keys(s, o, label))


def annotate(scene: Scene, rng: np.random.Generator
             ) -> tuple[list[tuple[int, int, str]], list[str], list[str]]:
    """Annotated relations (subject, object, label), the true predicate of each and its
    context rule ("" for relations decided by their own pair)."""
    names = [o.name for o in scene.objects]
    state = ConstraintState(names)
    chosen: list[tuple[int, int, str]] = []
    required: set[tuple[int, int]] = set()
    for s, o, truth in scene.links:
        if _required(scene, state, s, o, truth) or rng.random() < ANNOTATION_RATE[truth]:
            if truth == "part of" and rng.random() < 0.6:
                chosen.append((o, s, "has"))
                required.add((o, s))
            else:
                chosen.append((s, o, truth))
                if _required(scene, state, s, o, truth):
                    required.add((s, o))
    geometric = geometric_relations(scene)
    by_pair = {(s, o): t for s, o, t in geometric}
    for s, o, truth in geometric:
        if truth == "above":
            if rng.random() < ANNOTATION_RATE["above"]:
                chosen.append((s, o, truth))
        elif s < o and rng.random() < _proximity_rate(scene, s, o):
            both = rng.random() < 0.12
            forward = rng.random() < 0.5
            if both or forward:
                chosen.append((s, o, truth))
            if both or not forward:
                chosen.append((o, s, by_pair[(o, s)]))
    if len(chosen) > MAX_RELATIONS:
        keep = [r for r in chosen if r[:2] in required]
        rest = [r for r in chosen if r[:2] not in required]
        order = rng.permutation(len(rest))
        chosen = keep + [rest[k] for k in sorted(order[: max(MAX_RELATIONS - len(keep), 0)])]
    relations = [(s, o, sample_label(rng, truth, names[s], names[o])) for s, o, truth in chosen]
    contexts = [scene.context.get((s, o), "") for s, o, _ in chosen]
    return relations, [truth for _, _, truth in chosen], contexts
