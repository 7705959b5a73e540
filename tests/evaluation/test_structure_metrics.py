"""Structure metrics of the synthetic benchmark on hand-built images: recall on the
context-decided relations, violation rates, their absence elsewhere and metric_value."""

import numpy as np
import pytest
from eval_fakes import FakeDataset, gt_image, prediction, rel_score_rows
from structure_fakes import (
    HEIGHT,
    PREDICATE_NAMES,
    WIDTH,
    SyntheticFakeDataset,
    cls,
    pred,
    ranked_prediction,
    syn_image,
)

from maskrcnn_benchmark.evaluation import (
    SGGEvalSettings,
    SGGEvaluator,
    SGGMode,
    check_val_metric,
    metric_value,
)

KS = (2, 100)

# A street: a parked bike, a man riding a horse, a woman standing next to the horse.
STREET = syn_image(
    [("bike", [10, 100, 60, 140]), ("street", [0, 120, 319, 239]), ("man", [70, 40, 100, 140]),
     ("horse", [60, 80, 160, 170]), ("woman", [150, 40, 180, 150])],
    [(0, 1, "parked on"), (2, 3, "riding"), (4, 3, "next to")],
    ["parked_unless_used", "", "leads_unless_taken"])
# The graph-constrained predictions recall "parked on" (rank 0) and miss "next to" (rank 2
# says "holding"); without graph constraint "next to" is the 4th entry (rank 3).
STREET_PRED = [(0, 1, {"parked on": 0.9}), (2, 3, {"riding": 0.8}),
               (4, 3, {"holding": 0.6, "next to": 0.3})]
# Two people under one umbrella: the man holds it, the woman (with a bag) is under it.
COUPLE = syn_image(
    [("man", [100, 60, 130, 200]), ("umbrella", [90, 20, 180, 90]),
     ("woman", [140, 60, 170, 200]), ("bag", [165, 120, 185, 150])],
    [(0, 1, "holding"), (2, 1, "under"), (2, 3, "carrying")],
    ["free_hand_holds", "free_hand_holds", ""])
# graph: holding recalled (rank 0), under missed; ng ranks: carrying, holding, holding, under
COUPLE_PRED = [(0, 1, {"holding": 0.7}), (2, 1, {"holding": 0.5, "under": 0.4}),
               (2, 3, {"carrying": 0.8})]
# A parked motorcycle predicted "on" the street (ng: "parked on" is the 3rd entry).
MOTORCYCLE = syn_image(
    [("motorcycle", [10, 100, 60, 140]), ("street", [0, 120, 319, 239]),
     ("man", [200, 40, 230, 150])],
    [(0, 1, "parked on"), (2, 1, "standing on")], ["parked_unless_used", ""])
MOTORCYCLE_PRED = [(0, 1, {"on": 0.6, "parked on": 0.3}), (2, 1, {"standing on": 0.9})]
# No context-decided relation; the man's two supports break one_support at rank 1.
TWO_SUPPORTS = syn_image(
    [("man", [50, 20, 80, 120]), ("street", [0, 100, 199, 149]), ("grass", [0, 110, 199, 149])],
    [(0, 1, "standing on")], [""])
TWO_SUPPORTS_PRED = [(0, 1, {"standing on": 0.9}), (0, 2, {"walking on": 0.8})]


def _evaluate(images, ranked, ks=KS, joint=False):
    dataset = SyntheticFakeDataset(images)
    predictions = [ranked_prediction(im, r) for im, r in zip(images, ranked)]
    settings = SGGEvalSettings(SGGMode.PREDCLS, ks, num_predicates=len(dataset.ind_to_predicates),
                               detection_map=False, joint_decode=joint)
    return SGGEvaluator(settings).evaluate(dataset, predictions)


def test_one_context_relation_recalled_and_one_missed_is_half():
    metrics = _evaluate([STREET], [STREET_PRED]).metrics
    assert metrics["ctxR"] == {"2": 0.5, "100": 0.5}
    assert metrics["ng-ctxR"] == {"2": 0.5, "100": 1.0}
    assert metrics["R"]["100"] == pytest.approx(2 / 3)  # all rows: unchanged definition
    assert metrics["structure"]["num_context_relations"] == 2


def test_context_recall_and_mean_recall_by_hand():
    out = _evaluate([STREET, COUPLE, MOTORCYCLE, TWO_SUPPORTS],
                    [STREET_PRED, COUPLE_PRED, MOTORCYCLE_PRED, TWO_SUPPORTS_PRED])
    m = out.metrics
    # per image over its context rows: street 1/2, couple 1/2, motorcycle 0 (the last image
    # has none and does not count)
    assert m["ctxR"]["2"] == pytest.approx(1 / 3) and m["ctxR"]["100"] == pytest.approx(1 / 3)
    # ng @2: street (parked on rank 0) 1/2, couple (holding rank 1) 1/2, motorcycle 0;
    # @100 every context row is among the entries
    assert m["ng-ctxR"]["2"] == pytest.approx(1 / 3) and m["ng-ctxR"]["100"] == 1.0
    # per predicate: parked on (street 1, motorcycle 0) 0.5, next to 0, holding 1, under 0;
    # the mean runs over these four predicates, not all 21
    assert m["ctx-mR"]["100"] == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert m["ng-ctx-mR"]["2"] == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert m["ng-ctx-mR"]["100"] == 1.0
    per_predicate = m["structure"]["ctx_per_predicate"]["R"]["100"]
    names = m["per_predicate"]["names"]
    assert per_predicate[names.index("parked on")] == 0.5
    assert per_predicate[names.index("near")] is None  # never context-decided here
    rules = m["structure"]["ctx_per_rule"]
    assert rules["parked_unless_used"]["R"]["100"] == 0.5
    assert rules["parked_unless_used"]["num_images"] == 2
    assert rules["free_hand_holds"]["R"]["100"] == 0.5
    assert rules["leads_unless_taken"]["R"]["100"] == 0.0
    assert m["structure"]["num_images_with_context"] == 3
    assert "ctxR @ 2: 0.3333" in out.text and "ctx-mR @ 100: 0.3750" in out.text


def test_violation_rate_of_the_top_k_graph():
    m = _evaluate([TWO_SUPPORTS, STREET], [TWO_SUPPORTS_PRED, STREET_PRED], ks=(1, 2)).metrics
    # the second support enters at rank 1: absent from the top-1 graph, present in the top 2;
    # the street graph keeps every rule at both K
    assert m["viol"] == {"1": 0.0, "2": 0.5} and m["viol-any"] == {"1": 0.0, "2": 0.5}
    by_kind = m["structure"]["viol_by_kind"]
    assert by_kind["one_support"] == {"1": 0.0, "2": 0.5}
    assert all(v == {"1": 0.0, "2": 0.0} for k, v in by_kind.items() if k != "one_support")


def test_violations_average_over_every_image_of_the_split():
    no_relations = syn_image([("man", [0, 0, 9, 9]), ("grass", [0, 5, 50, 50])], [], [])
    twice = [(0, 1, {"standing on": 0.9}), (0, 1, {"on": 0.8})]  # a pair listed twice
    m = _evaluate([no_relations, STREET], [twice, STREET_PRED], ks=(1, 2)).metrics
    assert m["num_images_with_relations"] == 1
    assert m["viol"]["2"] == 0.5 and m["structure"]["viol_by_kind"]["duplicate"]["2"] == 0.5


OLD_KEYS = {"mode", "recall_ks", "iou_threshold", "num_images", "num_images_with_relations",
            "R", "ngR", "mR", "ng-mR", "A", "per_predicate", "triplet_groups"}


def test_metrics_absent_without_the_generators_extras():
    fake = FakeDataset([gt_image([[0, 0, 10, 10], [5, 5, 20, 20]], [1, 2], [[0, 1, 3]])])
    fake_pred = prediction([[0, 0, 10, 10], [5, 5, 20, 20]], [1, 2], [1, 1], [[0, 1]],
                           rel_score_rows([{3: 0.9}]))
    settings = SGGEvalSettings(SGGMode.PREDCLS, KS, num_predicates=6, detection_map=False)
    out = SGGEvaluator(settings).evaluate(fake, [fake_pred])
    assert set(out.metrics) == OLD_KEYS
    assert "ctx" not in out.text and "viol" not in out.text
    # synthetic names but no extras in image_data.json: the same
    plain = {k: v for k, v in STREET.items() if k != "context"}
    out = _evaluate([plain], [STREET_PRED])
    assert set(out.metrics) == OLD_KEYS and "ctx" not in out.text
    with_extras = _evaluate([STREET], [STREET_PRED])
    assert set(with_extras.metrics) == OLD_KEYS | {
        "ctxR", "ctx-mR", "ng-ctxR", "ng-ctx-mR", "viol", "viol-any", "structure"}
    for key in ("R", "ngR", "mR", "ng-mR", "A", "per_predicate"):
        assert with_extras.metrics[key] == out.metrics[key]


def test_mixed_extras_are_an_error():
    plain = {k: v for k, v in STREET.items() if k != "context"}
    with pytest.raises(ValueError, match="image 1 has no structure annotations"):
        _evaluate([STREET, plain], [STREET_PRED, STREET_PRED])


def test_metric_value_reads_the_new_families():
    m = _evaluate([STREET, COUPLE, MOTORCYCLE], [STREET_PRED, COUPLE_PRED, MOTORCYCLE_PRED]
                  ).metrics
    assert metric_value(m, "ctxR@2") == pytest.approx(1 / 3)
    assert metric_value(m, "ctx-mR@100") == pytest.approx(0.375)
    assert metric_value(m, "ng-ctx-mR@100") == 1.0
    assert metric_value(m, "ng-ctxR@100") == 1.0
    # couple: the umbrella is held twice at rank 1 (held_or_resting), and at rank 2 the woman
    # holding it also carries her bag (one_in_hand); street: the horse is ridden and held at
    # rank 2 (ridden_led_or_parked); the motorcycle keeps every rule
    assert metric_value(m, "viol@2") == pytest.approx(1 / 3)
    assert metric_value(m, "viol@100") == pytest.approx((1 + 2 + 0) / 3)
    assert metric_value(m, "viol-any@100") == pytest.approx(2 / 3)
    by_kind = m["structure"]["viol_by_kind"]
    assert by_kind["held_or_resting"]["2"] == pytest.approx(1 / 3)
    assert by_kind["one_in_hand"] == {"2": 0.0, "100": pytest.approx(1 / 3)}
    assert by_kind["ridden_led_or_parked"] == {"2": 0.0, "100": pytest.approx(1 / 3)}
    with pytest.raises(ValueError, match="K=50"):
        metric_value(m, "ctxR@50")
    with pytest.raises(ValueError, match="need the synthetic benchmark's extras"):
        metric_value({"R": {"50": 0.5}}, "ctx-mR@50")
    with pytest.raises(ValueError, match="ctx-mR"):  # the message lists the new names
        metric_value(m, "ctxmR@50")


def test_validation_metric_accepts_context_recall_not_violations():
    check_val_metric("ctx-mR@50", (20, 50, 100))
    check_val_metric("ng-ctxR@100", (20, 50, 100))
    with pytest.raises(ValueError, match="maximised"):
        check_val_metric("viol@50", (20, 50, 100))
    with pytest.raises(ValueError, match="SOLVER.VAL_METRIC 'cR@50' is not one of.*ctx-mR@K"):
        check_val_metric("cR@50", (20, 50, 100))


def test_sgdet_graphs_are_checked_on_their_own_boxes():
    # a detection that matches no GT box (the woman) is still a node of the predicted graph:
    # her "wearing" the man's shirt breaks one_wearer at rank 1
    image = syn_image([("man", [50, 20, 110, 200]), ("shirt", [60, 40, 100, 100])],
                      [(0, 1, "wearing")], [""])
    boxes = [[50, 20, 110, 200], [60, 40, 100, 100], [40, 10, 150, 210]]
    labels = [cls("man"), cls("shirt"), cls("woman")]
    scores = np.zeros((2, len(PREDICATE_NAMES)), dtype=np.float32)
    scores[:, pred("wearing")] = [0.9, 0.8]
    scores[:, 0] = 1 - scores.sum(1)
    detection = prediction(boxes, labels, [0.9, 0.9, 0.9], [[0, 1], [2, 1]], scores,
                           (WIDTH, HEIGHT))
    settings = SGGEvalSettings(SGGMode.SGDET, (1, 2), num_predicates=len(PREDICATE_NAMES),
                               detection_map=False)
    m = SGGEvaluator(settings).evaluate(SyntheticFakeDataset([image]), [detection]).metrics
    assert m["R"] == {"1": 1.0, "2": 1.0}
    assert m["viol"] == {"1": 0.0, "2": 1.0}
    assert m["structure"]["viol_by_kind"]["one_wearer"]["2"] == 1.0
    assert m["ctxR"] == {"1": None, "2": None}  # no context-decided relation in the split
