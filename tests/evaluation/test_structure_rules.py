"""The scene rules as tables: one hand-made graph per kind of violation, and agreement with
the generator's own checks (scene_violations, allowed_mask, ConstraintState) on random input."""

import re

import numpy as np
import pytest
from structure_fakes import CLASSES, PREDICATE_NAMES, cls, pred

from maskrcnn_benchmark.data.datasets.synthetic.oracle_decode import allowed_mask
from maskrcnn_benchmark.data.datasets.synthetic.rules import (
    GROUP_RULES,
    PAIR_RULES,
    ConstraintState,
    scene_violations,
)
from maskrcnn_benchmark.evaluation import (
    VIOLATION_KINDS,
    pair_rule_mask,
    rule_tables,
    violation_events,
)

TABLES = rule_tables(tuple(CLASSES), tuple(PREDICATE_NAMES))
SAME = [0, 0, 100, 100]  # equal boxes touch, contain and lie inside each other
UPPER, LOWER = [40, 0, 60, 60], [0, 30, 100, 100]  # UPPER is on top of LOWER


def _events(objects, triplets):
    labels = np.array([cls(name) for name, _ in objects])
    boxes = np.array([box for _, box in objects], dtype=float)
    rows = np.array([(s, o, pred(p)) for s, o, p in triplets]).reshape(-1, 3)
    ranks, kinds = violation_events(TABLES, labels, boxes, rows)
    return sorted((int(r), VIOLATION_KINDS[k]) for r, k in zip(ranks, kinds))


CASES = {
    "class pair rule": ([("man", SAME), ("street", SAME)], [(0, 1, "parked on")],
                        [(0, "pair")]),
    "box pair rule": ([("man", [0, 0, 50, 100]), ("shirt", [60, 10, 90, 40])],
                      [(0, 1, "wearing")], [(0, "pair")]),
    "self-loop": ([("man", SAME)], [(0, 0, "near")], [(0, "self")]),
    "duplicate pair": ([("man", SAME), ("grass", SAME)],
                       [(0, 1, "standing on"), (0, 1, "near")], [(1, "duplicate")]),
    "contradiction": ([("bench", SAME), ("table", SAME)],
                      [(0, 1, "on"), (1, 0, "on")], [(1, "contradiction")]),
    "converses": ([("man", [0, 0, 50, 90]), ("woman", [50, 0, 90, 100])],
                  [(0, 1, "behind"), (1, 0, "in front of"), (1, 0, "near")],
                  [(2, "duplicate")]),
    "one support": ([("man", SAME), ("street", SAME), ("grass", SAME)],
                    [(0, 1, "standing on"), (0, 2, "walking on")], [(1, "one_support")]),
    "one wearer": ([("man", SAME), ("woman", SAME), ("shirt", SAME)],
                   [(0, 2, "wearing"), (1, 2, "has")], [(1, "one_wearer")]),
    "held or resting": ([("man", SAME), ("bag", SAME), ("table", SAME)],
                        [(0, 1, "holding"), (1, 2, "on")], [(1, "held_or_resting")]),
    "one whole": ([("car", SAME), ("bus", SAME), ("wheel", SAME)],
                  [(0, 2, "has"), (2, 1, "part of")], [(1, "one_whole")]),
    "one in hand": ([("man", SAME), ("bag", SAME), ("cup", SAME)],
                    [(0, 1, "holding"), (0, 2, "carrying")], [(1, "one_in_hand")]),
    "ridden, led or parked": ([("man", UPPER), ("horse", LOWER), ("woman", LOWER)],
                              [(0, 1, "riding"), (2, 1, "holding")],
                              [(1, "ridden_led_or_parked")]),
    "one person per chair": ([("man", UPPER), ("chair", LOWER), ("woman", LOWER)],
                             [(0, 1, "sitting on"), (2, 1, "holding")],
                             [(1, "one_person_per_chair")]),
    # a rule counts only its partner classes: a garment's "has" is not a thing in hand
    "partners": ([("man", SAME), ("bag", SAME), ("hat", SAME)],
                 [(0, 1, "holding"), (0, 2, "has")], []),
    # one event per (rule, object), at the triplet that takes the counter past its limit
    "three riders": ([("man", UPPER), ("woman", UPPER), ("man", UPPER), ("horse", LOWER)],
                     [(0, 3, "riding"), (1, 3, "riding"), (2, 3, "riding")],
                     [(1, "ridden_led_or_parked")]),
    # "exactly one" rules left unmet are not violations of a (partial) top-K graph
    "unmet exactly one": ([("shirt", SAME), ("bike", SAME), ("street", SAME)],
                          [(1, 2, "on")], []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_kind_of_violation(name):
    objects, triplets, expected = CASES[name]
    assert _events(objects, triplets) == expected


def test_every_kind_has_a_case():
    kinds = {kind for _, _, expected in CASES.values() for _, kind in expected}
    assert kinds == set(VIOLATION_KINDS)


def _random_graph(rng, num_triplets):
    n = int(rng.integers(2, 8))
    focus = [cls(c) for c in ("man", "woman", "horse", "bike", "shirt", "chair", "bag",
                              "umbrella", "street", "wheel", "car", "table")]
    labels = rng.choice(focus, n) if rng.random() < 0.7 else rng.integers(1, len(CLASSES), n)
    xy = rng.uniform(0, 100, (n, 2))
    boxes = np.round(np.concatenate([xy, xy + rng.uniform(5, 60, (n, 2))], 1))
    triplets = np.column_stack([rng.integers(0, n, (num_triplets, 2)),
                                rng.integers(1, len(PREDICATE_NAMES), num_triplets)])
    return labels, boxes, triplets


def _unmet_exactly_one(message):
    found = re.search(r": (\d+) relations for rule", message)
    return found is not None and int(found.group(1)) == 0


def test_events_equal_the_generators_checker_on_random_graphs():
    rng = np.random.default_rng(0)
    for _ in range(300):
        labels, boxes, triplets = _random_graph(rng, int(rng.integers(0, 10)))
        ranks, _ = violation_events(TABLES, labels, boxes, triplets)
        names = [CLASSES[c] for c in labels]
        for k in range(len(triplets) + 1):
            relations = [(int(s), int(o), PREDICATE_NAMES[p]) for s, o, p in triplets[:k]]
            messages = [m for m in scene_violations(names, boxes, relations)
                        if not _unmet_exactly_one(m)]
            assert int((ranks < k).sum()) == len(messages), (names, relations, messages)


def test_pair_rule_mask_equals_the_oracles_allowed_mask():
    rng = np.random.default_rng(1)
    for _ in range(60):
        labels, boxes, _ = _random_graph(rng, 0)
        n = len(labels)
        pairs = np.array([(i, j) for i in range(n) for j in range(n) if i != j])
        names = [CLASSES[c] for c in labels]
        expected = allowed_mask(names, boxes, pairs, PREDICATE_NAMES[1:])
        np.testing.assert_array_equal(pair_rule_mask(TABLES, labels, boxes, pairs), expected)


def test_counter_tables_equal_constraint_state_keys():
    names = {rule.name: g for g, rule in enumerate(GROUP_RULES)}
    for s, subj in enumerate(CLASSES[1:], start=1):
        for o, obj in enumerate(CLASSES[1:], start=1):
            state = ConstraintState([subj, obj])
            for p, name in enumerate(PREDICATE_NAMES[1:], start=1):
                keys = state.keys(0, 1, name)
                at_s = sum(1 << names[r] for r, node in keys if node == 0)
                at_o = sum(1 << names[r] for r, node in keys if node == 1)
                assert (TABLES.subject_rules[s, o, p], TABLES.object_rules[s, o, p]) == (
                    at_s, at_o), (subj, name, obj)


def test_class_table_covers_every_geometry():
    # a class pair admits a predicate when some witness boxes pass its whole pair rule: every
    # predicate without class restrictions is admitted for every class pair
    free = [p for p, name in enumerate(PREDICATE_NAMES[1:], start=1)
            if PAIR_RULES[name].subjects is None and PAIR_RULES[name].objects is None]
    assert free and TABLES.class_ok[1:, 1:, free].all()
    assert not TABLES.class_ok[cls("man"), cls("street"), pred("parked on")]
    assert TABLES.class_ok[cls("bike"), cls("street"), pred("parked on")]


def test_non_synthetic_names_are_refused():
    with pytest.raises(ValueError, match="synthetic benchmark's names.*'airplane'"):
        rule_tables(("__background__", "airplane"), tuple(PREDICATE_NAMES))
