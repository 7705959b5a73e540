"""Scene rules of the synthetic benchmark: the checker catches each kind of violation, every
generated image satisfies every rule, and the annotator's tables are what they claim."""

from collections import Counter

import numpy as np
import pytest

from maskrcnn_benchmark.data.datasets.synthetic.annotation import (
    ANNOTATION_RATE,
    LABEL_BIAS,
    LABEL_BIAS_OVERRIDES,
    TRUE_PREDICATES,
    ZERO_SHOT,
    label_distribution,
    sample_label,
)
from maskrcnn_benchmark.data.datasets.synthetic.generate import synthesize_images
from maskrcnn_benchmark.data.datasets.synthetic.relations import proximity
from maskrcnn_benchmark.data.datasets.synthetic.rules import (
    CONTEXT_RULES,
    GROUP_RULES,
    PAIR_RULES,
    ConstraintState,
    context_holds,
    pair_allowed,
    scene_violations,
)
from maskrcnn_benchmark.data.datasets.synthetic.scene import SceneObject
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import OBJECT_CLASSES, PREDICATES

# A small hand-made scene: boxes xyxy (inclusive pixels).
CLASSES = ["man", "horse", "grass", "shirt", "woman", "bike", "car", "wheel", "umbrella", "bag",
           "man", "woman", "chair", "man"]
BOXES = np.array([
    [100, 40, 130, 110],   # 0 man, on the horse's back
    [80, 80, 180, 190],    # 1 horse
    [0, 100, 319, 239],    # 2 grass
    [104, 60, 126, 85],    # 3 shirt, inside the man
    [200, 90, 230, 200],   # 4 woman, standing on the grass, holding the umbrella
    [240, 150, 300, 199],  # 5 bike, parked
    [10, 150, 90, 200],    # 6 car
    [20, 180, 40, 200],    # 7 wheel of the car
    [190, 60, 250, 120],   # 8 umbrella held by the woman
    [250, 150, 265, 170],  # 9 bag carried by man 10
    [228, 92, 258, 200],   # 10 man under the umbrella (his hands are full)
    [172, 85, 200, 192],   # 11 woman at the ridden horse's head: next to it
    [130, 170, 160, 215],  # 12 chair
    [128, 150, 158, 200],  # 13 man sitting on the chair
], dtype=float)
VALID = [(0, 1, "riding"), (1, 2, "standing on"), (0, 3, "wearing"), (4, 2, "on"),
         (6, 7, "has"), (4, 8, "holding"), (4, 1, "near"), (1, 4, "near"), (5, 2, "parked on"),
         (10, 9, "carrying"), (10, 8, "under"), (10, 2, "standing on"), (11, 1, "next to"),
         (11, 2, "standing on"), (12, 2, "on"), (13, 12, "sitting on")]


def test_valid_scene_has_no_violation():
    assert scene_violations(CLASSES, BOXES, VALID) == []


@pytest.mark.parametrize("extra, needle", [
    ((0, 5, "riding"), "one_support"),              # rides two things
    ((0, 2, "on"), "one_support"),                  # rides the horse and stands on the grass
    ((4, 3, "wearing"), "one_wearer"),              # a shirt worn by two people
    ((7, 6, "part of"), "one_whole"),               # has + part of for the same wheel
    ((11, 8, "has"), "held_or_resting"),            # an umbrella held by two people
    ((8, 2, "on"), "held_or_resting"),              # held and resting on the grass
    ((4, 9, "holding"), "one_in_hand"),             # the umbrella and a bag in hand
    ((11, 1, "holding"), "two predicates"),         # the ridden horse's companion also leads it
    ((4, 5, "holding"), "ridden_led_or_parked"),    # a parked bike that someone leads
    ((0, 5, "on"), "ridden_led_or_parked"),         # a parked bike that someone rides
    ((11, 12, "holding"), "one_person_per_chair"),  # someone holds a chair someone sits on
    ((0, 1, "near"), "two predicates"),             # a second predicate for one pair
    ((2, 1, "on"), "contradicts"),                  # horse on grass and grass on horse
    ((0, 5, "sitting on"), "pair rule"),            # sitting on needs the sitter on top
    ((2, 0, "wearing"), "pair rule"),               # wearing needs a person and a garment
    ((3, 3, "near"), "itself"),
])
def test_each_violation_is_reported(extra, needle):
    problems = scene_violations(CLASSES, BOXES, VALID + [extra])
    assert any(needle in p for p in problems), problems


def test_exactly_one_rules_report_missing_links():
    kept = [r for r in VALID if r[2] not in ("wearing", "has", "riding", "parked on")]
    problems = scene_violations(CLASSES, BOXES, kept)
    assert any("shirt#3: 0 relations for rule one_wearer" in p for p in problems)
    assert any("wheel#7: 0 relations for rule one_whole" in p for p in problems)
    assert any("horse#1: 0 relations for rule ridden_led_or_parked" in p for p in problems)
    assert any("bike#5: 0 relations for rule ridden_led_or_parked" in p for p in problems)
    # a horse led by the woman at its head instead of ridden is valid again
    led = [r for r in VALID if r[:2] not in ((0, 1), (11, 1))] + [(11, 1, "holding")]
    assert scene_violations(CLASSES, BOXES, led) == []


def test_partners_filter_what_a_rule_counts():
    state = ConstraintState(CLASSES)
    # a garment's "has" is not a thing in hand; a grass "on" is not a handler of the bike
    assert state.keys(4, 3, "has") == [("one_wearer", 3)]
    assert state.keys(4, 9, "has") == [("held_or_resting", 9), ("one_in_hand", 4)]
    assert state.keys(5, 2, "parked on") == [("one_support", 5), ("ridden_led_or_parked", 5)]
    assert ("ridden_led_or_parked", 1) not in state.keys(9, 1, "on")  # a bag on a horse


def test_context_holds_reads_other_relations():
    rules = {r.name: r for r in CONTEXT_RULES}
    # the bike is parked: nobody rides or leads it; once ridden, the context holds
    assert not context_holds(rules["parked_unless_used"], VALID, 5, 2)
    assert context_holds(rules["parked_unless_used"], VALID + [(0, 5, "riding")], 5, 2)
    # the woman at the horse's head: someone else rides it
    assert context_holds(rules["leads_unless_taken"], VALID, 11, 1)
    # the man under the umbrella has a bag in hand; the woman's own holding does not count
    assert context_holds(rules["free_hand_holds"], VALID, 10, 8)
    assert not context_holds(rules["free_hand_holds"], VALID, 4, 8)
    for rule in CONTEXT_RULES:
        assert set(rule.if_context + rule.otherwise + rule.context) <= set(PREDICATES)
        assert set(rule.via) <= {g.name for g in GROUP_RULES}


def test_converse_and_symmetric_pairs_are_consistent():
    boxes = np.array([[0, 0, 40, 100], [20, 10, 60, 80]], dtype=float)  # 0 ends lower: closer
    names = ["man", "dog"]
    assert scene_violations(names, boxes, [(0, 1, "in front of"), (1, 0, "behind")]) == []
    assert any("contradicts" in p for p in scene_violations(
        names, boxes, [(0, 1, "in front of"), (1, 0, "in front of")]))
    assert scene_violations(names, boxes, [(0, 1, "near"), (1, 0, "behind")]) == []
    assert any("pair rule" in p for p in scene_violations(names, boxes, [(1, 0, "in front of")]))


def test_constraint_state_counts_per_rule():
    state = ConstraintState(CLASSES)
    assert state.can_add(0, 1, "riding")
    state.add(0, 1, "riding")
    assert not state.can_add(0, 5, "riding") and not state.can_add(0, 2, "standing on")
    assert state.can_add(0, 5, "near") and not state.can_add(0, 1, "near")
    assert not state.can_add(1, 0, "on") and state.can_add(1, 0, "near")
    assert not state.can_add(11, 1, "holding")  # the horse is ridden: nobody else leads it
    assert state.remove(0, 1) == "riding"
    assert state.can_add(11, 1, "holding") and state.can_add(0, 2, "standing on")


def test_pair_rules_geometry():
    assert pair_allowed("riding", "man", "horse", BOXES[0], BOXES[1])
    assert not pair_allowed("riding", "man", "horse", BOXES[4], BOXES[1])  # below, not on top
    assert pair_allowed("wearing", "man", "shirt", BOXES[0], BOXES[3])
    assert not pair_allowed("wearing", "woman", "shirt", BOXES[4], BOXES[3])  # not inside
    assert pair_allowed("has", "car", "wheel", BOXES[6], BOXES[7])
    assert not pair_allowed("has", "horse", "wheel", BOXES[1], BOXES[7])  # a wheel of a car only
    assert not pair_allowed("has", "man", "wheel", BOXES[0], BOXES[7])
    assert pair_allowed("part of", "wheel", "car", BOXES[7], BOXES[6])
    assert pair_allowed("holding", "woman", "horse", BOXES[11], BOXES[1])
    assert not pair_allowed("holding", "woman", "bike", BOXES[11], BOXES[5])  # not touching
    assert pair_allowed("under", "man", "umbrella", BOXES[10], BOXES[8])
    assert set(PAIR_RULES) == set(PREDICATES)


def test_annotator_tables_are_distributions_over_known_words():
    for dist in list(LABEL_BIAS.values()) + [d for *_, d in LABEL_BIAS_OVERRIDES]:
        assert set(dist) <= set(PREDICATES)
        assert sum(dist.values()) == pytest.approx(1.0)
    assert set(ANNOTATION_RATE) <= set(TRUE_PREDICATES)
    assert all(t in TRUE_PREDICATES and s in OBJECT_CLASSES and o in OBJECT_CLASSES
               for s, t, o in ZERO_SHOT)
    assert {name for r in GROUP_RULES for name in r.incoming + r.outgoing} <= set(PREDICATES)


def test_sampled_labels_follow_the_tables():
    rng = np.random.default_rng(0)
    draws = Counter(sample_label(rng, "standing on", "man", "grass") for _ in range(4000))
    assert draws["on"] / 4000 == pytest.approx(LABEL_BIAS["standing on"]["on"], abs=0.03)
    assert label_distribution("standing on", "dog", "grass")["on"] > LABEL_BIAS[
        "standing on"]["on"]  # animals: the annotator says "on" even more often


def test_proximity_is_decided_by_depth_and_overlap():
    def obj(x1, x2, y2, h=60):
        return SceneObject("man", (x1, y2 - h, x2, y2), contact=y2)

    band = 100.0
    assert proximity(obj(0, 40, 200), obj(10, 50, 170), band) == ("in front of", "behind")
    assert proximity(obj(0, 40, 170), obj(10, 50, 200), band) == ("behind", "in front of")
    assert proximity(obj(0, 40, 200), obj(45, 85, 202), band) == ("next to", "next to")
    assert proximity(obj(0, 40, 200), obj(10, 50, 192), band) is None  # ambiguous depth
    assert proximity(obj(0, 40, 200), obj(90, 130, 185), band) == ("near", "near")
    assert proximity(obj(0, 40, 200), obj(250, 290, 140), band) is None  # far apart


def test_every_rule_holds_in_every_tiny_image():
    images = synthesize_images(0, 64, 0.3)
    for image in images:
        names = [o.name for o in image.scene.objects]
        boxes = np.array([o.box for o in image.scene.objects], dtype=float)
        assert scene_violations(names, boxes, image.relations) == [], image.image_id
