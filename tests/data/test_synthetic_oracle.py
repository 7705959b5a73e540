"""Oracle check pieces: pair features, rule-aware decoding, metrics, and a short end-to-end
run on the tiny preset."""

import itertools

import numpy as np
import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic import joint_decode
from maskrcnn_benchmark.data.datasets.synthetic.generate import synthesize_images
from maskrcnn_benchmark.data.datasets.synthetic.joint_decode import label_marginals
from maskrcnn_benchmark.data.datasets.synthetic.oracle import (
    DECODERS,
    SCORERS,
    oracle_section,
    pair_features,
    run_oracle,
)
from maskrcnn_benchmark.data.datasets.synthetic.oracle_decode import (
    accuracy_and_mean_recall,
    allowed_mask,
    decode_graph,
    graph_f1,
    mean_recall_at_k,
    rank_triplets,
    recall_at_k,
)
from maskrcnn_benchmark.data.datasets.synthetic.records import to_vg_record
from maskrcnn_benchmark.data.datasets.synthetic.rules import (
    GROUP_RULES,
    ConstraintState,
    scene_violations,
)
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import OBJECT_CLASSES, PREDICATES

P = {name: i for i, name in enumerate(PREDICATES, start=1)}
# man (0) standing behind a horse (1), both on the grass (2)
NAMES = ["man", "horse", "grass"]
BOXES = np.array([[100, 40, 130, 150], [80, 80, 180, 190], [0, 100, 319, 239]], dtype=float)
PAIRS = np.array([[0, 1], [0, 2], [1, 2]])


def _scores(rows):
    """[M, P + 1] probabilities from {predicate: p} dicts (the rest goes to background)."""
    out = np.zeros((len(rows), len(PREDICATES) + 1))
    for m, row in enumerate(rows):
        for name, p in row.items():
            out[m, P[name]] = p
        out[m, 0] = 1.0 - out[m].sum()
    return out


def test_pair_features_hand_values():
    boxes = np.array([[0, 0, 9, 9], [0, 0, 9, 9], [10, 0, 19, 9]], dtype=float)
    f = pair_features(boxes, 20, 10, np.array([[0, 1], [0, 2]]))
    assert f.shape == (2, 21)
    # columns 12..14: IoU, intersection / subject area, intersection / object area
    np.testing.assert_allclose(f[0, 12:15], [1, 1, 1])
    np.testing.assert_allclose(f[1, 12:15], [0, 0, 0])
    assert f[1, 8] == pytest.approx(1.0)  # object centre one subject width to the right


def _names(labels):
    return [PREDICATES[i - 1] if i else "-" for i in labels]


def _both(scores, pairs, names, background=False):
    ind = decode_graph(scores, pairs, names, PREDICATES, None, False, background)
    joint = decode_graph(scores, pairs, names, PREDICATES, None, True, background)
    return _names(ind), _names(joint)


def test_joint_decoder_uses_the_subjects_other_support():
    # Alone, (man, horse) looks like riding; the man's confident "on grass" rules that out.
    scores = _scores([{"riding": 0.45, "behind": 0.3, "near": 0.1},
                      {"on": 0.7, "standing on": 0.25},
                      {"on": 0.6, "standing on": 0.3}])
    ind, joint = _both(scores, PAIRS, NAMES)
    assert ind == ["riding", "on", "on"] and joint == ["behind", "on", "on"]


def test_group_mass_beats_a_split_single_word():
    # The horse pair splits its support mass over two words (0.35 + 0.3 = 0.65), the grass
    # pair puts 0.5 on one: the man is on the horse.
    scores = _scores([{"riding": 0.35, "on": 0.3, "near": 0.2}, {"on": 0.5, "near": 0.3},
                      {"on": 0.9}])
    assert _both(scores, PAIRS, NAMES)[1] == ["riding", "near", "on"]


HORSE = ["man", "horse", "grass", "woman"]


def test_the_rider_decides_the_person_at_the_horses_head():
    pairs = np.array([[0, 1], [3, 1], [1, 2]])
    scores = _scores([{"riding": 0.8, "on": 0.15}, {"holding": 0.6, "has": 0.1, "near": 0.25},
                      {"on": 0.9}])
    ind, joint = _both(scores, pairs, HORSE)
    assert ind == ["riding", "holding", "on"] and joint == ["riding", "near", "on"]
    # without a rider the horse must be led (every horse is ridden or led)
    scores = _scores([{"holding": 0.4, "near": 0.5}, {"on": 0.9}])
    ind, joint = _both(scores, pairs[1:], HORSE)
    assert ind == ["near", "on"] and joint == ["holding", "on"]


def test_a_bike_nobody_uses_is_parked():
    names, pairs = ["bike", "street", "man"], np.array([[0, 1], [2, 0]])
    scores = _scores([{"on": 0.6, "parked on": 0.4}, {"near": 0.9, "holding": 0.05}])
    assert _both(scores, pairs, names) == (["on", "near"], ["parked on", "near"])
    # a confident leader makes it "on" the street
    scores = _scores([{"on": 0.4, "parked on": 0.6}, {"holding": 0.7, "near": 0.25}])
    assert _both(scores, pairs, names) == (["parked on", "holding"], ["on", "holding"])


def test_the_one_with_a_bag_does_not_hold_the_shared_umbrella():
    names = ["man", "woman", "umbrella", "bag", "street"]
    pairs = np.array([[0, 2], [1, 2], [1, 3]])
    scores = _scores([{"holding": 0.5, "under": 0.45}, {"holding": 0.55, "under": 0.4},
                      {"carrying": 0.6, "has": 0.3, "holding": 0.05}])
    ind, joint = _both(scores, pairs, names)
    assert ind == ["holding", "holding", "carrying"]
    assert joint == ["holding", "under", "carrying"]


def test_decoders_agree_when_no_rule_binds():
    names = ["man", "bench", "grass"]
    scores = _scores([{"behind": 0.5, "sitting on": 0.2}, {"on": 0.8}, {"on": 0.7}])
    for background in (False, True):
        ind, joint = _both(scores, PAIRS, names, background)
        assert ind == joint


def _brute_force(scores, pairs, names):
    """Each pair's label probabilities given the rules, by listing every labelling (the
    "exactly one" rules count when some labelling keeps them)."""
    total = {True: np.zeros(scores.shape), False: np.zeros(scores.shape)}
    exact = [r for r in GROUP_RULES if r.exact]
    for labels in itertools.product(range(1, len(PREDICATES) + 1), repeat=len(pairs)):
        state = ConstraintState(names)
        feasible = True
        for (s, o), p in zip(pairs, labels):
            feasible = feasible and state.can_add(int(s), int(o), PREDICATES[p - 1])
            if feasible:
                state.add(int(s), int(o), PREDICATES[p - 1])
        if not feasible:
            continue
        met = all(state.count(r, n) == r.limit for r in exact for n, c in enumerate(names)
                  if (r.classes is None or c in r.classes) and any(
                      (r.name, n) in state.keys(int(s), int(o), PREDICATES[q - 1])
                      for s, o in pairs for q in range(1, len(PREDICATES) + 1)))
        weight = np.prod([scores[m, p] for m, p in enumerate(labels)])
        for flag in {met, False}:
            total[flag][np.arange(len(pairs)), labels] += weight
    kept = total[True] if total[True].sum() > 0 else total[False]
    return kept / kept.sum(axis=1, keepdims=True)


def test_label_probabilities_under_the_rules_match_brute_force():
    rng = np.random.default_rng(3)
    cases = [(["man", "horse", "grass", "woman"], [[0, 1], [0, 2], [3, 1]]),
             (["bike", "street", "man", "woman"], [[0, 1], [2, 0], [3, 0]]),
             (["man", "umbrella", "bag", "woman"], [[0, 1], [0, 2], [3, 1]]),
             (["car", "wheel", "man"], [[0, 1], [1, 0], [2, 1]])]
    for names, pairs in cases:
        pairs = np.array(pairs)
        for _ in range(3):
            # every label keeps at least 2% of its pair's mass: no group is left out
            scores = 0.5 * rng.dirichlet(np.ones(len(PREDICATES)), size=len(pairs)) + 0.5 / len(
                PREDICATES)
            probs = np.concatenate([np.full((len(pairs), 1), -1.0), scores], axis=1)
            marginals, computed, _ = label_marginals(probs, pairs, names, PREDICATES)
            assert computed.all()
            reference = _brute_force(np.concatenate([np.zeros((len(pairs), 1)), scores], 1),
                                     pairs, names)
            np.testing.assert_allclose(marginals[:, 1:], reference[:, 1:], atol=1e-9)


def test_joint_graph_keeps_every_scene_rule_on_random_scores(monkeypatch):
    rng = np.random.default_rng(0)
    for budget in (joint_decode.MAX_LEAVES, 0):  # exact per component, then greedy fallback
        monkeypatch.setattr(joint_decode, "MAX_LEAVES", budget)
        for image in synthesize_images(1, 12, 0.3):
            names = [o.name for o in image.scene.objects]
            boxes = np.array([o.box for o in image.scene.objects], dtype=float)
            n = len(names)
            pairs = np.array([(i, j) for i in range(n) for j in range(n) if i != j])
            scores = rng.dirichlet(np.full(len(PREDICATES) + 1, 0.3), size=len(pairs))
            mask = allowed_mask(names, boxes, pairs, PREDICATES)
            labels = decode_graph(scores, pairs, names, PREDICATES, mask, True, True)
            rels = [(int(s), int(o), PREDICATES[p - 1]) for (s, o), p in zip(pairs, labels)
                    if p]
            problems = [p for p in scene_violations(names, boxes, rels)
                        if " 0 relations for rule" not in p]  # "exactly one" may be left unmet
            assert problems == []
            independent = decode_graph(scores, pairs, names, PREDICATES, None, False, True)
            np.testing.assert_array_equal(independent, scores.argmax(1))


def test_metrics_hand_values():
    gts = [np.array([[0, 1, 3], [1, 2, 5], [2, 0, 3]]), np.array([[0, 1, 5]])]
    preds = [np.array([[0, 1, 3], [1, 2, 4]]), np.array([[0, 1, 5]])]
    assert recall_at_k(preds, gts) == pytest.approx((1 / 3 + 1) / 2)
    # predicate 3: image 0 recall 1/2; predicate 5: images recall 0 and 1 -> 0.5
    assert mean_recall_at_k(preds, gts, 6) == pytest.approx((0.5 + 0.5) / 2)
    acc, mrec = accuracy_and_mean_recall(np.array([1, 1, 2, 3]), np.array([1, 2, 2, 2]))
    assert acc == pytest.approx(0.5) and mrec == pytest.approx((1 + 1 / 3) / 2)
    precision, recall, f1 = graph_f1(np.array([1, 0, 2, 2]), np.array([1, 3, 2, 0]))
    assert (precision, recall) == pytest.approx((2 / 3, 2 / 3)) and f1 == pytest.approx(2 / 3)


def test_rank_triplets_puts_decoded_relations_first():
    scores = _scores([{"near": 0.3}, {"on": 0.2}, {"on": 0.9}])
    sgb = rank_triplets(scores, PAIRS, None, 2)
    assert sgb.tolist() == [[1, 2, P["on"]], [0, 1, P["near"]]]
    decoded = rank_triplets(scores, PAIRS, np.array([0, P["on"], P["on"]]), 2)
    assert decoded.tolist() == [[1, 2, P["on"]], [0, 2, P["on"]]]


@pytest.fixture
def one_thread():
    """Small MLPs train much faster on one thread than on a shared, busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_oracle_end_to_end_on_tiny(one_thread):
    records = [to_vg_record(im) for im in synthesize_images(0, 64, 0.3)]
    report = run_oracle(records, OBJECT_CLASSES, PREDICATES, epochs=6, seed=0)
    assert set(report.metrics) == {f"{s} / {d}" for s in SCORERS for d in DECODERS}
    geometry = report.metrics["geometry + classes / independent argmax"]
    assert geometry["accuracy"] > 0.5  # well above chance over 21 predicates
    assert report.num_test_relations == sum(len(r.relations) for r in records if r.split == 2)
    text = oracle_section(report, "python tools/oracle_synthetic.py")
    assert "| geometry + classes / joint (pair + scene rules) |" in text
    assert 0 < report.num_context < report.num_test_relations
