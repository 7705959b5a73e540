"""The scene rules of the synthetic benchmark, written once as data and used everywhere.

The generator produces annotations that satisfy them, the tests check every image against them
and the oracle's joint decoder enforces them. There are three kinds:

- pair rules (``PAIR_RULES``): which subject/object classes a predicate admits and what the
  two boxes must look like (riding implies being on top, worn clothing lies inside the wearer);
- scene rules (``GROUP_RULES``, ``CONVERSES``): constraints that couple relations of one image
  (one support per subject, one wearer per garment, one whole per part, a hand-held item is
  held or rests, one thing in hand per person, a horse or bike is ridden, led or parked, one
  person per chair, no contradicting relation in the reverse direction, one predicate per
  ordered pair);
- context rules (``CONTEXT_RULES``): relations whose true predicate is decided by other parts
  of the scene, not by the pair's own boxes and classes (a bike is "parked on" the street only
  when nobody rides or leads it). They say what decides and through which scene rules the
  other relations of the image recover it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .vocabulary import (
    ANIMAL,
    CLOTHING,
    FURNITURE,
    GROUND,
    HANDHELD,
    HANDLED,
    PART,
    PART_WHOLES,
    PERSON,
    RIDEABLE,
    SEAT,
    SKY,
    VEHICLE,
)

__all__ = ["SUPPORT", "SYMMETRIC", "CONVERSES", "HANDLER", "IN_HAND", "PairRule", "PAIR_RULES",
           "GroupRule", "GROUP_RULES", "ContextRule", "CONTEXT_RULES", "pair_allowed",
           "ConstraintState", "contradicts", "context_holds", "scene_violations"]

# Labels that say where a subject rests; every subject has at most one of them.
SUPPORT = ("on", "standing on", "sitting on", "lying on", "walking on", "parked on", "riding",
           "in", "flying in")
SYMMETRIC = ("near", "next to")
# (p, q): "A p B" together with "B q A" is consistent; other asymmetric pairs contradict.
CONVERSES = frozenset({("above", "under"), ("under", "above"), ("in front of", "behind"),
                       ("behind", "in front of")})
# Labels of a person who rides, sits on or leads a horse, bike, motorcycle or chair.
HANDLER = ("riding", "on", "sitting on", "holding", "has")
# Labels of a person with a thing in hand.
IN_HAND = ("holding", "carrying", "has")

_ANY = None
_STANDABLE = GROUND + ("surfboard",)
_WHOLES = tuple(sorted({w for ws in PART_WHOLES.values() for w in ws}))


@dataclass(frozen=True)
class PairRule:
    """Classes a predicate admits (None = any) and the box relation it implies (see _GEOMETRY)."""

    subjects: tuple[str, ...] | None
    objects: tuple[str, ...] | None
    geometry: str = ""


PAIR_RULES = {
    "above": PairRule(_ANY, _ANY, "above"),
    "under": PairRule(_ANY, FURNITURE + ("tree", "umbrella"), "under"),
    "behind": PairRule(_ANY, _ANY, "behind"),
    "in front of": PairRule(_ANY, _ANY, "in_front"),
    "near": PairRule(_ANY, _ANY),
    "next to": PairRule(_ANY, _ANY),
    "carrying": PairRule(PERSON, HANDHELD, "touching"),
    "holding": PairRule(PERSON, HANDHELD + HANDLED, "touching"),
    "wearing": PairRule(PERSON, CLOTHING, "inside"),
    "has": PairRule(PERSON + _WHOLES, CLOTHING + HANDHELD + HANDLED + PART, "touching"),
    "part of": PairRule(PART, _WHOLES, "contains"),
    "of": PairRule(PART, _WHOLES, "contains"),
    "riding": PairRule(PERSON, RIDEABLE, "on_top"),
    "sitting on": PairRule(PERSON, SEAT + RIDEABLE, "on_top"),
    "lying on": PairRule(PERSON + ("cat", "dog"), SEAT + GROUND, "touching"),
    "standing on": PairRule(PERSON + ANIMAL, _STANDABLE, "touching"),
    "walking on": PairRule(PERSON, GROUND, "touching"),
    "parked on": PairRule(VEHICLE, GROUND, "touching"),
    "on": PairRule(_ANY, FURNITURE + GROUND + RIDEABLE, "touching"),
    "in": PairRule(_ANY, ("water", "tree", "grass", "sky"), "touching"),
    "flying in": PairRule(("bird", "kite"), SKY, "touching"),
}


@dataclass(frozen=True)
class GroupRule:
    """At most (or, with ``exact``, exactly) ``limit`` relations of a kind meet at one object.

    At an object of ``classes`` (None = any) the rule counts the relations entering it with a
    predicate in ``incoming`` plus those leaving it with a predicate in ``outgoing``, whose
    other end is of ``partners`` (None = any).
    """

    name: str
    classes: tuple[str, ...] | None
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()
    limit: int = 1
    exact: bool = False
    partners: tuple[str, ...] | None = None


GROUP_RULES = (
    GroupRule("one_support", None, outgoing=SUPPORT),
    GroupRule("one_wearer", CLOTHING, incoming=("wearing", "has"), exact=True),
    GroupRule("held_or_resting", HANDHELD, incoming=IN_HAND, outgoing=SUPPORT, exact=True),
    GroupRule("one_whole", PART, incoming=("has",), outgoing=("part of", "of"), exact=True),
    GroupRule("one_in_hand", PERSON, outgoing=IN_HAND, partners=HANDHELD + HANDLED),
    GroupRule("ridden_led_or_parked", ("bike", "horse", "motorcycle"), incoming=HANDLER,
              outgoing=("parked on",), exact=True, partners=PERSON + GROUND),
    GroupRule("one_person_per_chair", ("chair",), incoming=HANDLER, partners=PERSON),
)


@dataclass(frozen=True)
class ContextRule:
    """Relations (subject of ``subjects``, object of ``objects``) whose true predicate is one of
    ``if_context`` when the context holds and one of ``otherwise`` when not.

    The context: another relation, not this pair's, with a true predicate in ``context`` enters
    (``direction`` "incoming") or leaves ("outgoing") the pair's ``node`` ("subject" or
    "object"). ``via``: the scene rules through which the image's other relations reveal it.
    """

    name: str
    subjects: tuple[str, ...]
    objects: tuple[str, ...]
    if_context: tuple[str, ...]
    otherwise: tuple[str, ...]
    node: str
    direction: str
    context: tuple[str, ...]
    via: tuple[str, ...]
    description: str


CONTEXT_RULES = (
    ContextRule("parked_unless_used", ("bike", "motorcycle"), GROUND, ("on",), ("parked on",),
                "subject", "incoming", ("riding", "holding"), ("ridden_led_or_parked",),
                "a bike or motorcycle is on the street while someone rides or leads it, "
                "otherwise parked on it"),
    ContextRule("leads_unless_taken", PERSON, HANDLED, ("next to",), ("holding",), "object",
                "incoming", ("riding", "sitting on"),
                ("ridden_led_or_parked", "one_person_per_chair"),
                "the person at a horse's head, a bike's handlebar or a chair's back holds it, "
                "unless someone else rides or sits on it (then they stand next to it)"),
    ContextRule("free_hand_holds", PERSON, ("bag", "surfboard", "umbrella"),
                ("under", "next to"), ("holding", "carrying"), "subject", "outgoing",
                ("holding", "carrying"), ("one_in_hand", "held_or_resting"),
                "of two people sharing an umbrella, a surfboard or a bag, the one whose hands "
                "are free holds it; the one with a bag or cup of their own is under the "
                "umbrella or next to the board or bag"),
)


def _inter(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    return max(w, 0) * max(h, 0)


def _area(a: Sequence[float]) -> float:
    return (a[2] - a[0] + 1) * (a[3] - a[1] + 1)


def _geometry_ok(kind: str, s: Sequence[float], o: Sequence[float]) -> bool:
    """Box relation implied by a predicate (xyxy, +1 pixel convention)."""
    if kind == "":
        return True
    if kind == "touching":
        return _inter(s, o) > 0
    if kind == "inside":
        return _inter(s, o) >= 0.9 * _area(o)
    if kind == "contains":
        return _inter(s, o) >= 0.9 * _area(s)
    if kind == "on_top":
        return _inter(s, o) > 0 and (s[1] + s[3]) < (o[1] + o[3])
    if kind == "above":
        return s[3] <= o[1] + 0.25 * (o[3] - o[1]) and (s[1] + s[3]) < (o[1] + o[3])
    if kind == "under":
        return s[1] >= o[1] and (s[1] + s[3]) > (o[1] + o[3]) - (o[3] - o[1]) * 0.5
    if kind == "in_front":
        return s[3] > o[3]
    if kind == "behind":
        return s[3] < o[3]
    raise ValueError(f"unknown geometry rule {kind!r}")


def pair_allowed(pred: str, subj: str, obj: str, subj_box: Sequence[float],
                 obj_box: Sequence[float]) -> bool:
    """Whether ``subj pred obj`` satisfies the class and geometry rules of the predicate."""
    rule = PAIR_RULES[pred]
    if rule.subjects is not None and subj not in rule.subjects:
        return False
    if rule.objects is not None and obj not in rule.objects:
        return False
    if pred == "has" and (subj in PERSON) == (obj in PART):
        return False  # a person has garments and items, a whole has parts
    if pred in ("part of", "of", "has") and obj in PART and subj not in PART_WHOLES[obj]:
        return False
    if pred in ("part of", "of") and obj not in PART_WHOLES[subj]:
        return False
    return _geometry_ok(rule.geometry, subj_box, obj_box)


class ConstraintState:
    """Relations chosen so far in one image; answers whether one more keeps the scene rules."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = list(classes)
        self.labels: dict[tuple[int, int], str] = {}
        self._counts: dict[tuple[str, int], int] = {}

    def keys(self, s: int, o: int, pred: str) -> list[tuple[str, int]]:
        """The (rule name, object) counters that "s pred o" increments."""
        keys = []
        for rule in GROUP_RULES:
            for node, other, preds in ((s, o, rule.outgoing), (o, s, rule.incoming)):
                if pred in preds and (rule.classes is None or self.classes[node] in rule.classes
                                      ) and (rule.partners is None
                                             or self.classes[other] in rule.partners):
                    keys.append((rule.name, node))
        return keys

    def can_add(self, s: int, o: int, pred: str) -> bool:
        """Whether labelling (s, o) with ``pred`` keeps every scene rule (limits, converses)."""
        if (s, o) in self.labels:
            return False
        reverse = self.labels.get((o, s))
        if reverse is not None and contradicts(pred, reverse):
            return False
        return all(self._counts.get(k, 0) < _LIMITS[k[0]] for k in self.keys(s, o, pred))

    def add(self, s: int, o: int, pred: str) -> None:
        """Record the relation (call ``can_add`` first)."""
        self.labels[(s, o)] = pred
        for k in self.keys(s, o, pred):
            self._counts[k] = self._counts.get(k, 0) + 1

    def remove(self, s: int, o: int) -> str:
        """Forget the relation of (s, o); return its predicate."""
        pred = self.labels.pop((s, o))
        for k in self.keys(s, o, pred):
            self._counts[k] -= 1
        return pred

    def count(self, rule: GroupRule, node: int) -> int:
        """How many relations of ``rule`` meet at ``node``."""
        return self._counts.get((rule.name, node), 0)


_LIMITS = {rule.name: rule.limit for rule in GROUP_RULES}


def contradicts(pred: str, reverse: str) -> bool:
    """Whether "A pred B" contradicts "B reverse A"."""
    if pred in SYMMETRIC or reverse in SYMMETRIC:
        return False
    return (pred, reverse) not in CONVERSES


def context_holds(rule: ContextRule, relations: Sequence[tuple[int, int, str]], s: int,
                  o: int) -> bool:
    """Whether the context of ``rule`` holds for the pair (s, o) among ``relations`` (true
    predicates): another relation with a predicate in ``rule.context`` meets the pair's node."""
    node = s if rule.node == "subject" else o
    side = 1 if rule.direction == "incoming" else 0
    return any(r[side] == node and (r[0], r[1]) != (s, o) and r[2] in rule.context
               for r in relations)


def scene_violations(classes: Sequence[str], boxes: np.ndarray,
                     relations: Sequence[tuple[int, int, str]]) -> list[str]:
    """Every broken rule of one annotated image, as readable messages (empty = valid)."""
    out = []
    state = ConstraintState(classes)
    for s, o, pred in relations:
        if s == o:
            out.append(f"relation {s}->{o} '{pred}' links an object to itself")
            continue
        if not pair_allowed(pred, classes[s], classes[o], boxes[s], boxes[o]):
            out.append(f"{classes[s]}#{s} {pred} {classes[o]}#{o} breaks its pair rule")
        if (s, o) in state.labels:
            out.append(f"pair {s}->{o} carries two predicates")
            continue
        reverse = state.labels.get((o, s))
        if reverse is not None and contradicts(pred, reverse):
            out.append(f"{s}->{o} '{pred}' contradicts {o}->{s} '{reverse}'")
        state.add(s, o, pred)
    for rule in GROUP_RULES:
        for node, cls in enumerate(classes):
            if rule.classes is not None and cls not in rule.classes:
                continue
            n = state.count(rule, node)
            if n > rule.limit or (rule.exact and n != rule.limit):
                out.append(f"{cls}#{node}: {n} relations for rule {rule.name}")
    return out
