"""Statistics of the synthetic benchmark: the statistics function against hand-computed values,
then the guarantees of the `small` preset, generated without pixels (the records are the
same as those written with images; see test_synthetic_generator.py): long tail, zero- and
few-shot triplets, sizes, every rule in every image, and the relations the scene decides."""

from collections import Counter

import numpy as np
import pytest

from maskrcnn_benchmark.data.datasets.synthetic.annotation import ZERO_SHOT
from maskrcnn_benchmark.data.datasets.synthetic.card import label_noise_ceiling
from maskrcnn_benchmark.data.datasets.synthetic.generate import synthesize_images
from maskrcnn_benchmark.data.datasets.synthetic.oracle import pair_features
from maskrcnn_benchmark.data.datasets.synthetic.records import to_vg_record
from maskrcnn_benchmark.data.datasets.synthetic.rules import (
    CONTEXT_RULES,
    context_holds,
    scene_violations,
)
from maskrcnn_benchmark.data.datasets.synthetic.split_stats import split_statistics
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import PREDICATES, PRESETS
from maskrcnn_benchmark.data.datasets.vg_format import VGImageRecord

SMALL = PRESETS["small"]


def _record(split, labels, rels, context=None):
    n = len(labels)
    return VGImageRecord(image_id=1, width=10, height=10, boxes=np.zeros((n, 4)),
                         labels=np.array(labels), relations=np.array(rels).reshape(-1, 3),
                         split=split, extra={} if context is None else {"context": context})


def test_statistics_match_hand_counts():
    # Classes 1, 2, 3; predicates 1..3. Train triplets: (1,2,1) x7, (2,3,2) x1, (1,3,3) x1.
    train = [_record(0, [1, 2, 3], [(0, 1, 1)] * 6 + [(1, 2, 2)], [""] * 6 + ["a"]),
             _record(0, [1, 2, 3, 1], [(0, 1, 1), (3, 2, 3)], ["b", "a"])]
    test = [_record(2, [1, 2, 3], [(0, 1, 1), (1, 2, 2), (0, 2, 2)]),
            _record(2, [2, 1], [(0, 1, 1), (1, 0, 1)])]
    stats = split_statistics(train + test, 3)
    assert (stats.num_train, stats.num_test) == (2, 2)
    assert stats.train_predicate_counts.tolist() == [0, 7, 1, 1]
    assert stats.head_tail_ratio == pytest.approx(7.0)
    # Test triplets: (1,2,1) seen 7x, (2,3,2) seen 1x, (1,3,2) and (2,1,1) never seen.
    assert stats.zero_shot_triplets == 2 and stats.zero_shot_instances == 2
    assert stats.few_shot_triplets == {"1-5": 1, "6-10": 1, "11-20": 0}
    assert stats.few_shot_instances == {"1-5": 1, "6-10": 2, "11-20": 0}
    assert stats.objects_per_image == (3.0, 2, 4)
    assert stats.relations_per_image == (3.5, 2, 7)
    assert stats.pair_density == pytest.approx(np.mean([7 / 6, 2 / 12, 3 / 6, 2 / 2]))
    # context flags: 3 of the 14 relations, in train only (test records carry none)
    assert stats.context_counts == {"a": 2, "b": 1}
    assert stats.context_share == pytest.approx(3 / 14)


def test_missing_predicate_makes_the_tail_infinite():
    stats = split_statistics([_record(0, [1, 2], [(0, 1, 1)]), _record(2, [1, 2], [])], 2)
    assert stats.head_tail_ratio == float("inf")


@pytest.fixture(scope="module")
def small():
    images = synthesize_images(0, SMALL.num_images, SMALL.test_fraction)
    return images, [to_vg_record(im) for im in images]


def test_small_long_tail(small):
    _, records = small
    stats = split_statistics(records, len(PREDICATES))
    assert (stats.train_predicate_counts[1:] > 0).all()
    assert stats.head_tail_ratio >= 20
    top = [PREDICATES[i] for i in np.argsort(-stats.train_predicate_counts[1:])[:4]]
    assert "on" == top[0] and {"has", "near"} <= set(top)  # generic words lead the head


def test_small_zero_and_few_shot(small):
    images, records = small
    stats = split_statistics(records, len(PREDICATES))
    assert stats.zero_shot_triplets > 0 and stats.zero_shot_instances > 0
    assert all(v > 0 for v in stats.few_shot_triplets.values()), stats.few_shot_triplets
    held_out = Counter()
    for im in images:
        names = [o.name for o in im.scene.objects]
        for (s, o, _), truth in zip(im.relations, im.truths):
            config = (names[s], truth, names[o])
            if config in ZERO_SHOT:
                assert im.split == 2, config
                held_out[config] += 1
    assert len(held_out) >= 4, held_out


def test_small_sizes_are_vg_like(small):
    images, records = small
    stats = split_statistics(records, len(PREDICATES))
    assert stats.num_train + stats.num_test == SMALL.num_images
    assert abs(stats.num_test / SMALL.num_images - SMALL.test_fraction) < 0.05
    assert stats.objects_per_image[1] >= 4 and stats.objects_per_image[2] <= 15
    assert stats.relations_per_image[1] >= 3 and stats.relations_per_image[2] <= 20
    assert 7 <= stats.objects_per_image[0] <= 12 and 5 <= stats.relations_per_image[0] <= 12
    assert stats.pair_density <= 0.25
    assert len({im.scene.kind for im in images}) == 4
    assert 0.5 < label_noise_ceiling(images, 2) < 0.95


def test_small_images_keep_every_rule(small):
    images, _ = small
    for image in images:
        names = [o.name for o in image.scene.objects]
        boxes = np.array([o.box for o in image.scene.objects], dtype=float)
        assert scene_violations(names, boxes, image.relations) == [], image.image_id


def test_small_context_share_is_meaningful_and_off_the_head(small):
    images, records = small
    stats = split_statistics(records, len(PREDICATES))
    assert 0.15 <= stats.context_share <= 0.30, stats.context_share
    assert set(stats.context_counts) == {r.name for r in CONTEXT_RULES}
    head = {PREDICATES[i] for i in np.argsort(-stats.train_predicate_counts[1:])[:4]}
    labels = Counter(label for im in images
                     for (_, _, label), c in zip(im.relations, im.contexts) if c)
    assert sum(n for p, n in labels.items() if p not in head) >= 0.5 * sum(labels.values())


def test_small_context_truths_follow_their_rules(small):
    images, _ = small
    rules = {r.name: r for r in CONTEXT_RULES}
    seen = Counter()
    for im in images:
        names = [o.name for o in im.scene.objects]
        for (s, o, _), truth, name in zip(im.relations, im.truths, im.contexts):
            if not name:
                continue
            rule = rules[name]
            assert names[s] in rule.subjects and names[o] in rule.objects
            holds = context_holds(rule, im.scene.links, s, o)
            assert truth in (rule.if_context if holds else rule.otherwise), (im.image_id, s, o)
            seen[(name, holds)] += 1
    assert all(seen[(r.name, flag)] >= 20 for r in CONTEXT_RULES for flag in (True, False)), seen


def test_small_context_pairs_look_alike_either_way(small):
    """The pair geometry an oracle sees has nearly the same mean in both outcomes of each
    context rule (standardised difference of every feature < 0.4)."""
    images, _ = small
    rules = {r.name: r for r in CONTEXT_RULES}
    feats = {}
    for im in images:
        boxes = np.array([o.box for o in im.scene.objects], dtype=float)
        for (s, o, _), truth, name in zip(im.relations, im.truths, im.contexts):
            if name:
                f = pair_features(boxes, im.scene.width, im.scene.height, np.array([[s, o]]))
                feats.setdefault((name, truth in rules[name].if_context), []).append(f[0])
    for name in rules:
        a, b = np.array(feats[(name, True)]), np.array(feats[(name, False)])
        spread = np.concatenate([a, b]).std(axis=0) + 1e-9
        assert (np.abs(a.mean(axis=0) - b.mean(axis=0)) / spread).max() < 0.4, name
