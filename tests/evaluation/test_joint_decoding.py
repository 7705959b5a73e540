"""TEST.RELATION.JOINT_DECODE: the oracle's joint decoder on a model's scores in the evaluator."""

import numpy as np
import pytest
from eval_fakes import FakeDataset, gt_image, make_cfg, prediction, rel_score_rows
from structure_fakes import CLASSES, PREDICATE_NAMES, ranked_prediction, syn_image
from test_structure_metrics import STREET, STREET_PRED, _evaluate

from maskrcnn_benchmark.data.datasets.synthetic.generate import synthesize_images
from maskrcnn_benchmark.data.datasets.synthetic.oracle_decode import allowed_mask, decode_graph
from maskrcnn_benchmark.evaluation import (
    ImagePrediction,
    SGGEvalSettings,
    SGGEvaluator,
    SGGMode,
    build_sgg_evaluator,
    joint_decode_prediction,
    rule_tables,
)

TABLES = rule_tables(tuple(CLASSES), tuple(PREDICATE_NAMES))
# A man standing behind a bench, both on the grass. Alone, (man, bench) looks like "sitting
# on"; the man's confident "on" the grass rules a second support out. (With a horse instead
# of the bench the rules would make him ride it: every horse is ridden or led.)
BENCH = syn_image(
    [("man", [100, 40, 130, 150]), ("bench", [80, 80, 180, 190]), ("grass", [0, 100, 319, 239])],
    [(0, 1, "behind"), (0, 2, "on"), (1, 2, "on")], ["", "", ""])
BENCH_PRED = [(0, 1, {"sitting on": 0.45, "behind": 0.3, "near": 0.1}),
              (0, 2, {"on": 0.7, "standing on": 0.25}), (1, 2, {"on": 0.6, "standing on": 0.3})]


def test_joint_decoding_turns_a_rule_breaking_argmax_into_the_rule_keeping_graph():
    plain = _evaluate([BENCH], [BENCH_PRED], ks=(3,))
    joint = _evaluate([BENCH], [BENCH_PRED], ks=(3,), joint=True)
    # argmax: the man sits on the bench and stands on the grass (two supports);
    # joint: behind, on, on
    assert plain.records[0].top_predicates.tolist() == [
        PREDICATE_NAMES.index(p) for p in ("sitting on", "on", "on")]
    assert sorted(joint.records[0].top_predicates.tolist()) == sorted(
        PREDICATE_NAMES.index(p) for p in ("behind", "on", "on"))
    assert plain.metrics["viol"]["3"] == 1.0 and joint.metrics["viol"]["3"] == 0.0
    assert plain.metrics["structure"]["viol_by_kind"]["one_support"]["3"] == 1.0
    assert plain.metrics["R"]["3"] == pytest.approx(2 / 3) and joint.metrics["R"]["3"] == 1.0
    assert joint.metrics["joint_decode"] is True and "joint_decode" not in plain.metrics
    assert "TEST.RELATION.JOINT_DECODE" in joint.text


def test_the_rider_decides_the_context_relation_next_to_the_horse():
    # street: the man rides the horse (0.8), so the woman at its head cannot lead it; her
    # argmax "holding" (0.6) becomes "next to" (0.3), the context-decided truth
    plain = _evaluate([STREET], [STREET_PRED], ks=(3, 100))
    joint = _evaluate([STREET], [STREET_PRED], ks=(3, 100), joint=True)
    assert plain.metrics["ctxR"]["100"] == 0.5 and joint.metrics["ctxR"]["100"] == 1.0
    assert plain.metrics["viol"]["100"] == 1.0 and joint.metrics["viol"]["100"] == 0.0
    record = joint.records[0]
    row = [tuple(p) for p in record.top_pairs.tolist()].index((4, 3))
    assert PREDICATE_NAMES[record.top_predicates[row]] == "next to"
    # the three decoded relations rank first; the no-graph-constraint scores are the
    # rule-aware probabilities: "next to" now beats "holding" for the woman
    assert sorted(map(tuple, record.top_pairs[:3].tolist())) == [(0, 1), (2, 3), (4, 3)]
    # (plain: the 4th entry, after holding)
    assert joint.metrics["ng-ctxR"]["3"] == 1.0 and plain.metrics["ng-ctxR"]["3"] == 0.5
    assert record.top_scores[row] > 0.5


def _image_prediction(rng, image):
    names = [o.name for o in image.scene.objects]
    boxes = np.array([o.box for o in image.scene.objects], dtype=float)
    labels = np.array([CLASSES.index(n) for n in names])
    n = len(names)
    pairs = np.array([(i, j) for i in range(n) for j in range(n) if i != j])
    scores = rng.dirichlet(np.full(len(PREDICATE_NAMES), 0.2), size=len(pairs))
    scores[:, 0] += 3.0  # most pairs unrelated, as a trained model says
    scores /= scores.sum(1, keepdims=True)
    pred = ImagePrediction(boxes, labels, np.ones(n), pairs, scores.astype(np.float32))
    return names, boxes, labels, pairs, scores, pred


def test_labels_are_decode_joints_and_decoded_pairs_come_first():
    rng = np.random.default_rng(0)
    for image in synthesize_images(3, 5, 0.3):
        names, boxes, labels, pairs, scores, pred = _image_prediction(rng, image)
        expected = decode_graph(scores.astype(np.float32).astype(np.float64), pairs, names,
                                PREDICATE_NAMES[1:],
                                allowed_mask(names, boxes, pairs, PREDICATE_NAMES[1:]), True,
                                True)
        out = joint_decode_prediction(pred, TABLES, labels, boxes, None)
        decoded = int((expected > 0).sum())
        row = {(int(s), int(o)): m for m, (s, o) in enumerate(pairs)}
        got = [row[(int(s), int(o))] for s, o in out.rel_pairs]
        assert sorted(got[:decoded]) == sorted(np.flatnonzero(expected).tolist())
        np.testing.assert_array_equal(out.rel_labels[:decoded], expected[got[:decoded]])
        # the other pairs offer their most probable predicate under the rules
        rest = out.rel_scores[decoded:, 1:]
        np.testing.assert_array_equal(out.rel_labels[decoded:], rest.argmax(1) + 1)
        np.testing.assert_allclose(out.rel_scores.sum(1), 1.0, atol=1e-4)


def test_joint_decoding_needs_the_synthetic_rules(cfg):
    dataset = FakeDataset([gt_image([[0, 0, 10, 10], [5, 5, 20, 20]], [1, 2], [[0, 1, 3]])])
    pred = prediction([[0, 0, 10, 10], [5, 5, 20, 20]], [1, 2], [1, 1], [[0, 1]],
                      rel_score_rows([{3: 0.9}]))
    settings = SGGEvalSettings(SGGMode.PREDCLS, num_predicates=6, detection_map=False,
                               joint_decode=True)
    message = "TEST.RELATION.JOINT_DECODE needs the synthetic benchmark's scene rules"
    with pytest.raises(ValueError, match=message + ".*'obj1'"):
        SGGEvaluator(settings).evaluate(dataset, [pred])
    cfg = make_cfg()
    cfg.TEST.RELATION.JOINT_DECODE = True
    with pytest.raises(ValueError, match=message):
        build_sgg_evaluator(cfg).structure_spec(dataset)
    cfg.TEST.RELATION.JOINT_DECODE = False
    assert build_sgg_evaluator(cfg).structure_spec(dataset) is None


def test_joint_decoding_works_on_synthetic_data_without_extras():
    plain = {k: v for k, v in BENCH.items() if k != "context"}
    out = _evaluate([plain], [BENCH_PRED], ks=(3,), joint=True)
    assert out.metrics["R"]["3"] == 1.0 and "viol" not in out.metrics


def test_invalid_scores_are_one_clear_error():
    bad = ranked_prediction(BENCH, BENCH_PRED)
    scores = bad.get_field("pred_rel_scores")
    scores[0, 3] = float("nan")
    dataset_images = [BENCH]
    from structure_fakes import SyntheticFakeDataset

    settings = SGGEvalSettings(SGGMode.PREDCLS, num_predicates=len(PREDICATE_NAMES),
                               detection_map=False, joint_decode=True)
    with pytest.raises(ValueError, match="image 0: pred_rel_scores contain NaN"):
        SGGEvaluator(settings).evaluate(SyntheticFakeDataset(dataset_images), [bad])
