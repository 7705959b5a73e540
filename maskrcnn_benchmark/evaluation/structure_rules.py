"""The synthetic benchmark's scene rules as lookup tables, for whole predicted graphs at once.

``data/datasets/synthetic/rules.py`` states the rules as data and checks one annotated image
relation by relation (``scene_violations``). The evaluator checks the top-K graph of every
image for every K, so this module turns the same data into arrays indexed by the dataset's
class and predicate ids and counts violations with a few numpy operations per image:

- pair rules: ``class_ok[subject class, object class, predicate]`` (a class pair admits a
  predicate when some pair of boxes passes ``rules.pair_allowed``) and the predicate's box
  relation, evaluated vectorised (the formulas of ``rules._geometry_ok``; a test compares both
  on random boxes);
- scene rules: which ``GROUP_RULES`` counter a triplet increments at its subject and at its
  object (the semantics of ``ConstraintState.keys``), and the converse kinds of the predicates
  (``rules.contradicts``).

Every violation is an *event* with the rank of the triplet that makes it appear: the top-K
graph breaks exactly the rules of the events whose rank is < K.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from maskrcnn_benchmark.data.datasets.synthetic.rules import (
    CONVERSES,
    GROUP_RULES,
    PAIR_RULES,
    SYMMETRIC,
    contradicts,
    pair_allowed,
)
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import OBJECT_CLASSES, PREDICATES

__all__ = ["VIOLATION_KINDS", "RuleTables", "rule_tables", "synthetic_vocabulary_error",
           "pair_rule_mask", "violation_events"]

# One event per broken rule: a triplet breaking its pair rule, a self-loop, a second triplet
# on one ordered pair, a pair of opposite triplets that contradict, and one per (scene rule,
# object) whose counter exceeds its limit.
VIOLATION_KINDS = ("pair", "self", "duplicate", "contradiction", *(r.name for r in GROUP_RULES))
_GEOMETRIES = ("", "touching", "inside", "contains", "on_top", "above", "under", "in_front",
               "behind")
# Box pairs (subject, object) on which every geometry of _GEOMETRIES holds for at least one:
# equal boxes, subject on top of a taller object, the reverse, subject above, subject below.
_WITNESSES = (
    ((0, 0, 9, 9), (0, 0, 9, 9)),
    ((0, 0, 9, 9), (0, 0, 9, 19)),
    ((0, 0, 9, 19), (0, 0, 9, 9)),
    ((0, 0, 9, 9), (0, 20, 9, 29)),
    ((0, 10, 9, 29), (0, 0, 9, 19)),
)
_DIRECTED = sorted({p for pair in CONVERSES for p in pair})  # above, behind, in front of, under
_CONVERSE_KINDS = ("near", *_DIRECTED, "on")  # symmetric, the directed words, any other


def synthetic_vocabulary_error(classes: Sequence[str], predicates: Sequence[str]) -> str:
    """Why the names (index 0 = background) are not the synthetic benchmark's; "" if they are."""
    if tuple(classes[1:]) != OBJECT_CLASSES:
        unknown = [c for c in classes[1:] if c not in OBJECT_CLASSES]
        return (f"its {len(classes) - 1} object classes are not the benchmark's "
                f"{len(OBJECT_CLASSES)}" + (f" (e.g. '{unknown[0]}')" if unknown else ""))
    if tuple(predicates[1:]) != PREDICATES:
        unknown = [p for p in predicates[1:] if p not in PREDICATES]
        return (f"its {len(predicates) - 1} predicates are not the benchmark's "
                f"{len(PREDICATES)}" + (f" (e.g. '{unknown[0]}')" if unknown else ""))
    return ""


@dataclass(frozen=True)
class RuleTables:
    """The rules over dataset ids: C classes and P predicates, both with background at 0."""

    classes: tuple[str, ...]
    predicates: tuple[str, ...]
    class_ok: np.ndarray  # [C, C, P] bool: the class part of every pair rule (column 0 True)
    geometry: np.ndarray  # [P] index into _GEOMETRIES
    converse: np.ndarray  # [P] index into _CONVERSE_KINDS
    contradiction: np.ndarray  # [K, K] bool: converse kinds that contradict
    # [C, C, P] bit g set: "s p o" increments GROUP_RULES[g]'s counter at s (at o)
    subject_rules: np.ndarray
    object_rules: np.ndarray
    rule_limits: np.ndarray  # [G]


def _rule_bits(classes: Sequence[str], predicates: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """[C, C, P] bitmasks of the counters a triplet (subject class, object class, predicate)
    increments at its subject and at its object (``ConstraintState.keys``)."""
    nodes = np.stack([_class_mask(classes, r.classes) for r in GROUP_RULES])  # [G, C]
    partners = np.stack([_class_mask(classes, r.partners) for r in GROUP_RULES])
    outgoing = np.stack([np.isin(predicates, r.outgoing) for r in GROUP_RULES])  # [G, P]
    incoming = np.stack([np.isin(predicates, r.incoming) for r in GROUP_RULES])
    bit = (1 << np.arange(len(GROUP_RULES), dtype=np.int64))[:, None, None, None]
    at_subject = nodes[:, :, None, None] & partners[:, None, :, None] & outgoing[:, None, None, :]
    at_object = partners[:, :, None, None] & nodes[:, None, :, None] & incoming[:, None, None, :]
    return (at_subject * bit).sum(axis=0), (at_object * bit).sum(axis=0)


def _class_mask(names: Sequence[str], allowed: Sequence[str] | None) -> np.ndarray:
    return np.array([allowed is None or n in allowed for n in names], dtype=bool)


@lru_cache(maxsize=8)
def rule_tables(classes: tuple[str, ...], predicates: tuple[str, ...]) -> RuleTables:
    """Tables for a dataset's ``ind_to_classes`` / ``ind_to_predicates`` (synthetic names)."""
    error = synthetic_vocabulary_error(classes, predicates)
    if error:
        raise ValueError(f"The scene rules need the synthetic benchmark's names, but {error}")
    num_c, num_p = len(classes), len(predicates)
    class_ok = np.ones((num_c, num_c, num_p), dtype=bool)
    for p, pred in enumerate(predicates[1:], start=1):
        for s, subj in enumerate(classes):
            for o, obj in enumerate(classes):
                class_ok[s, o, p] = any(pair_allowed(pred, subj, obj, a, b)
                                        for a, b in _WITNESSES)
    geometry = np.array([0] + [_GEOMETRIES.index(PAIR_RULES[p].geometry)
                               for p in predicates[1:]], dtype=np.int64)

    def kind(pred: str) -> int:
        return 0 if pred in SYMMETRIC else 1 + _DIRECTED.index(pred) if pred in _DIRECTED else (
            len(_CONVERSE_KINDS) - 1)

    converse = np.array([0] + [kind(p) for p in predicates[1:]], dtype=np.int64)
    contradiction = np.array([[contradicts(a, b) for b in _CONVERSE_KINDS]
                              for a in _CONVERSE_KINDS], dtype=bool)
    subject_rules, object_rules = _rule_bits(classes, predicates)
    return RuleTables(
        classes=classes, predicates=predicates, class_ok=class_ok, geometry=geometry,
        converse=converse, contradiction=contradiction, subject_rules=subject_rules,
        object_rules=object_rules,
        rule_limits=np.array([r.limit for r in GROUP_RULES], dtype=np.int64),
    )


def _geometry_ok(kinds: np.ndarray, s: np.ndarray, o: np.ndarray) -> np.ndarray:
    """[M] whether the boxes s, o [M, 4] (xyxy, +1 pixel) show each row's geometry kind."""
    iw = np.maximum(np.minimum(s[:, 2], o[:, 2]) - np.maximum(s[:, 0], o[:, 0]) + 1, 0)
    ih = np.maximum(np.minimum(s[:, 3], o[:, 3]) - np.maximum(s[:, 1], o[:, 1]) + 1, 0)
    inter = iw * ih
    area_s = (s[:, 2] - s[:, 0] + 1) * (s[:, 3] - s[:, 1] + 1)
    area_o = (o[:, 2] - o[:, 0] + 1) * (o[:, 3] - o[:, 1] + 1)
    mid_s, mid_o = s[:, 1] + s[:, 3], o[:, 1] + o[:, 3]
    height_o = o[:, 3] - o[:, 1]
    checks = np.stack([
        np.ones(len(s), dtype=bool),
        inter > 0,
        inter >= 0.9 * area_o,
        inter >= 0.9 * area_s,
        (inter > 0) & (mid_s < mid_o),
        (s[:, 3] <= o[:, 1] + 0.25 * height_o) & (mid_s < mid_o),
        (s[:, 1] >= o[:, 1]) & (mid_s > mid_o - height_o * 0.5),
        s[:, 3] > o[:, 3],
        s[:, 3] < o[:, 3],
    ])
    return checks[kinds, np.arange(len(s))]


def pair_rule_mask(tables: RuleTables, labels: np.ndarray, boxes: np.ndarray,
                   pairs: np.ndarray) -> np.ndarray:
    """[M, P] bool: which predicates (column 0 = background, always True) the pair rules
    admit for each ordered pair of boxes [N, 4] with class ids ``labels`` [N]."""
    num_p = len(tables.predicates)
    boxes = np.asarray(boxes, dtype=np.float64)
    s, o = pairs[:, 0], pairs[:, 1]
    rows = np.repeat(np.arange(len(pairs)), num_p)
    kinds = np.tile(tables.geometry, len(pairs))
    geometry = _geometry_ok(kinds, boxes[s[rows]], boxes[o[rows]]).reshape(len(pairs), num_p)
    return tables.class_ok[labels[s], labels[o]] & geometry


def violation_events(tables: RuleTables, labels: np.ndarray, boxes: np.ndarray,
                     triplets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every rule the ranked triplets [T, 3] (subject, object, predicate) break.

    Returns (rank, kind) per event: the rank (0-based) of the triplet with which the
    violation appears and its index in ``VIOLATION_KINDS``. As in ``rules.scene_violations``, a
    relation linking a box to itself is one event and nothing else, and one repeating an
    ordered pair is one event besides its pair rule and is left out of the contradiction and
    scene-rule checks; a "limit" rule breaks at the triplet that takes its counter past the
    limit. "Exactly one" rules are checked as "at most one": a top-K graph is partial,
    and a relation it leaves out is a recall error, not an inconsistency.
    """
    triplets = np.asarray(triplets, dtype=np.int64).reshape(-1, 3)
    num_t, num_n = len(triplets), len(labels)
    if num_t == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    s, o, p = triplets[:, 0], triplets[:, 1], triplets[:, 2]
    ranks = np.arange(num_t)

    self_loop = s == o
    pair_key = s * num_n + o
    first = np.full(num_n * num_n, num_t, dtype=np.int64)
    sorted_keys = np.sort(pair_key)
    if (sorted_keys[1:] == sorted_keys[:-1]).any():  # a pair repeats: its first rank
        unique_keys, first_rank = np.unique(pair_key, return_index=True)
        first[unique_keys] = first_rank
    else:
        first[pair_key] = ranks
    duplicate = ~self_loop & (first[pair_key] < ranks)
    valid = ~self_loop & ~duplicate

    cs, co = labels[s], labels[o]
    boxes = np.asarray(boxes, dtype=np.float64)
    broken = ~self_loop & ~(tables.class_ok[cs, co, p]
                            & _geometry_ok(tables.geometry[p], boxes[s], boxes[o]))

    reverse = first[o * num_n + s]
    earlier = np.flatnonzero(valid & (reverse < ranks))
    clash = earlier[tables.contradiction[tables.converse[p[earlier]],
                                         tables.converse[p[reverse[earlier]]]]]

    # scene-rule counters (rule g, object n) as g * num_n + n, in rank order within a counter
    num_g = len(tables.rule_limits)
    bits = 1 << np.arange(num_g, dtype=np.int64)
    at_subject = (tables.subject_rules[cs, co, p][:, None] & bits) > 0  # [T, G]
    at_object = (tables.object_rules[cs, co, p][:, None] & bits) > 0
    at_subject[~valid] = False
    at_object[~valid] = False
    t_s, g_s = np.nonzero(at_subject)
    t_o, g_o = np.nonzero(at_object)
    rule = np.concatenate([g_s, g_o])
    counter = rule * num_n + np.concatenate([s[t_s], o[t_o]])
    rank = np.concatenate([t_s, t_o])
    order = np.lexsort((rank, counter))
    counter, rank, rule = counter[order], rank[order], rule[order]
    new_counter = np.ones(len(counter), dtype=bool)
    new_counter[1:] = counter[1:] != counter[:-1]
    starts = np.flatnonzero(new_counter)
    occurrence = np.arange(len(counter)) - starts[np.cumsum(new_counter) - 1]
    over = occurrence == tables.rule_limits[rule]

    event_ranks = (ranks[broken], ranks[self_loop], ranks[duplicate], clash, rank[over])
    event_kinds = (np.zeros(len(event_ranks[0]), dtype=np.int64),
                   np.full(len(event_ranks[1]), 1), np.full(len(event_ranks[2]), 2),
                   np.full(len(clash), 3), 4 + rule[over])
    return (np.concatenate(event_ranks).astype(np.int64),
            np.concatenate(event_kinds).astype(np.int64))
