"""Oracle check pieces: pair features, rule-aware decoding, metrics, and a short end-to-end
run on the tiny preset."""

import numpy as np
import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic.generate import synthesize_images
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
    contested_pairs,
    decode_graph,
    graph_f1,
    mean_recall_at_k,
    rank_triplets,
    recall_at_k,
)
from maskrcnn_benchmark.data.datasets.synthetic.records import to_vg_record
from maskrcnn_benchmark.data.datasets.synthetic.rules import scene_violations
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


def test_joint_decoder_uses_the_subjects_other_support():
    # Alone, (man, horse) looks like riding; the man's confident "on grass" rules that out.
    scores = _scores([{"riding": 0.45, "behind": 0.3, "near": 0.1},
                      {"on": 0.7, "standing on": 0.25},
                      {"on": 0.6, "standing on": 0.3}])
    ind = decode_graph(scores, PAIRS, NAMES, PREDICATES, None, False, False)
    joint = decode_graph(scores, PAIRS, NAMES, PREDICATES, None, True, False)
    assert [PREDICATES[i - 1] for i in ind] == ["riding", "on", "on"]
    assert [PREDICATES[i - 1] for i in joint] == ["behind", "on", "on"]


def test_family_mass_beats_a_split_single_word():
    # The horse pair splits its support mass over two words (0.35 + 0.3 = 0.65), the grass
    # pair puts 0.5 on one: the man is on the horse.
    scores = _scores([{"riding": 0.35, "on": 0.3, "near": 0.2}, {"on": 0.5, "near": 0.3},
                      {"on": 0.9}])
    joint = decode_graph(scores, PAIRS, NAMES, PREDICATES, None, True, False)
    assert [PREDICATES[i - 1] for i in joint] == ["riding", "near", "on"]


def test_decoders_agree_when_argmax_is_consistent():
    scores = _scores([{"behind": 0.5, "riding": 0.2}, {"on": 0.8}, {"on": 0.7}])
    for background in (False, True):
        ind = decode_graph(scores, PAIRS, NAMES, PREDICATES, None, False, background)
        joint = decode_graph(scores, PAIRS, NAMES, PREDICATES, None, True, background)
        np.testing.assert_array_equal(ind, joint)


def test_joint_graph_keeps_every_scene_rule_on_random_scores():
    rng = np.random.default_rng(0)
    for image in synthesize_images(1, 12, 0.3):
        names = [o.name for o in image.scene.objects]
        boxes = np.array([o.box for o in image.scene.objects], dtype=float)
        n = len(names)
        pairs = np.array([(i, j) for i in range(n) for j in range(n) if i != j])
        scores = rng.dirichlet(np.full(len(PREDICATES) + 1, 0.3), size=len(pairs))
        mask = allowed_mask(names, boxes, pairs, PREDICATES)
        labels = decode_graph(scores, pairs, names, PREDICATES, mask, True, True)
        rels = [(int(s), int(o), PREDICATES[p - 1]) for (s, o), p in zip(pairs, labels) if p]
        problems = [p for p in scene_violations(names, boxes, rels)
                    if " 0 relations for rule" not in p]  # "exactly one" may be left unmet
        assert problems == []
        independent = decode_graph(scores, pairs, names, PREDICATES, None, False, True)
        np.testing.assert_array_equal(independent, scores.argmax(1))


def test_contested_pairs_depend_on_classes_only():
    # The man's pairs with the horse and the grass compete for his one support.
    assert contested_pairs(NAMES, PAIRS).tolist() == [True, True, False]
    assert contested_pairs(["man", "dog"], np.array([[0, 1]])).tolist() == [False]


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
