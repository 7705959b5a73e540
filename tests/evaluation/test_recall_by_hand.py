"""Relation metrics on hand-built images; every expected value is worked out in the comments."""

import numpy as np
import pytest
from eval_fakes import FakeDataset, FakeStatistics, gt_image, prediction, rel_score_rows

from maskrcnn_benchmark.evaluation import (
    SGGEvalSettings,
    SGGEvaluator,
    SGGMode,
    few_shot_bin_group,
    few_shot_exact_group,
    zero_shot_group,
)

B0, B1, B2 = [0, 0, 9, 9], [20, 20, 29, 29], [50, 50, 59, 59]


def evaluate(images, predictions, mode, ks=(1, 2, 3), groups=(), statistics=None, iou=0.5):
    settings = SGGEvalSettings(mode, ks, iou, num_predicates=6, detection_map=False)
    train_count = None if statistics is None else statistics.train_triplet_count
    evaluator = SGGEvaluator(settings, groups, train_count)
    return evaluator.evaluate(FakeDataset(images), predictions).metrics


def all_pairs_prediction(boxes, labels, scores, pairs, rows, size=(100, 100)):
    return prediction(boxes, labels, scores, pairs, rel_score_rows(rows), size)


def test_duplicate_gt_rows_count_in_the_denominator_and_one_prediction_hits_both():
    # GT: (0,1,rel3) twice and (1,0,rel2): 3 rows. Ranked predictions: (0,1) argmax rel3 -> hits
    # rows 0 and 1; (1,0) argmax rel4 -> nothing. R@K = 2/3 for every K.
    # ng entries: (0,1,3)=.6 rows 0,1; (1,0,4)=.5 none; (1,0,2)=.3 row 2 -> ngR = 2/3, 2/3, 1.
    gt = gt_image([B0, B1], [1, 2], [[0, 1, 3], [0, 1, 3], [1, 0, 2]])
    pred = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[0, 1], [1, 0]],
                                [{3: 0.6}, {4: 0.5, 2: 0.3}])
    m = evaluate([gt], [pred], SGGMode.PREDCLS)
    assert m["R"] == pytest.approx({"1": 2 / 3, "2": 2 / 3, "3": 2 / 3})
    assert m["ngR"] == pytest.approx({"1": 2 / 3, "2": 2 / 3, "3": 1.0})
    # mR over the 5 predicate classes: rel3 recalled 2/2, rel2 0/1 (ng@3: 1/1), rest absent = 0
    assert m["mR"] == pytest.approx({"1": 1 / 5, "2": 1 / 5, "3": 1 / 5})
    assert m["ng-mR"] == pytest.approx({"1": 1 / 5, "2": 1 / 5, "3": 2 / 5})
    assert m["per_predicate"]["R"]["3"] == pytest.approx([0, 0, 1, 0, 0])
    assert m["per_predicate"]["gt_instances"] == [0, 1, 2, 0, 0]


def test_multi_predicate_pair_caps_graph_constrained_recall_but_not_ng():
    # GT (0,1,rel1) and (0,1,rel2): one predicate per pair -> R = 1/2; ng takes both: 1/2 then 1
    gt = gt_image([B0, B1], [1, 2], [[0, 1, 1], [0, 1, 2]])
    pred = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[0, 1], [1, 0]],
                                [{1: 0.5, 2: 0.4}, {1: 0.05}])
    m = evaluate([gt], [pred], SGGMode.PREDCLS)
    assert m["R"] == pytest.approx({"1": 0.5, "2": 0.5, "3": 0.5})
    assert m["ngR"] == pytest.approx({"1": 0.5, "2": 1.0, "3": 1.0})


@pytest.mark.parametrize(
    "subject_box, threshold, recalled",
    [
        ([0, 0, 9, 4], 0.5, True),  # +1 convention: 10*5 / (10*10) = 0.5 exactly, inclusive
        ([0, 0, 9, 4.01], 0.5, True),  # 50.1 / 100 = 0.501
        ([0, 0, 9, 3.99], 0.5, False),  # 49.9 / 100 = 0.499
        ([0, 0, 9, 4.01], 0.6, False),  # the threshold is a parameter
    ],
)
def test_sgdet_iou_threshold_just_below_and_above(subject_box, threshold, recalled):
    gt = gt_image([B0, B2], [1, 2], [[0, 1, 1]])
    pred = all_pairs_prediction([subject_box, B2], [1, 2], [0.9, 0.8], [[0, 1], [1, 0]],
                                [{1: 0.7}, {1: 0.1}])
    m = evaluate([gt], [pred], SGGMode.SGDET, iou=threshold)
    assert m["R"]["1"] == (1.0 if recalled else 0.0)


def test_one_prediction_matches_two_gt_rows():
    # Two same-class GT subjects overlap (IoU of [0,0,20,20] with each: 400/441 = 0.907), so the
    # single predicted triplet matches both GT rows: R@1 = 2/2.
    gt = gt_image([[0, 0, 19, 19], [1, 1, 20, 20], [50, 50, 69, 69]], [1, 1, 2],
                  [[0, 2, 1], [1, 2, 1]])
    pred = all_pairs_prediction([[0, 0, 20, 20], [50, 50, 69, 69]], [1, 2], [0.9, 0.9],
                                [[0, 1], [1, 0]], [{1: 0.8}, {1: 0.1}])
    m = evaluate([gt], [pred], SGGMode.SGDET)
    assert m["R"]["1"] == 1.0


def test_mean_recall_averages_per_image_and_counts_absent_classes_as_zero():
    # Image A: rel3 row recalled (1/1). Image B: rel3 rows 0/2, rel2 row 1/1.
    # rel3 = mean(1, 0) = 0.5 (image-averaged; pooled would be 1/3); rel2 = 1.
    # mR = (0 + 1 + 0.5 + 0 + 0) / 5 = 0.3; R = mean(1/1, 1/3) = 2/3.
    image_a = gt_image([B0, B1], [1, 2], [[0, 1, 3]])
    pred_a = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[0, 1], [1, 0]], [{3: 0.9}, {}])
    image_b = gt_image([B0, B1, B2], [1, 2, 3], [[0, 1, 3], [1, 2, 3], [2, 0, 2]])
    pred_b = all_pairs_prediction([B0, B1, B2], [1, 2, 3], [1, 1, 1], [[2, 0], [0, 1]],
                                  [{2: 0.9}, {4: 0.9}])
    m = evaluate([image_a, image_b], [pred_a, pred_b], SGGMode.PREDCLS, ks=(2,))
    assert m["R"]["2"] == pytest.approx(2 / 3)
    assert m["per_predicate"]["R"]["2"] == pytest.approx([0, 1, 0.5, 0, 0])
    assert m["mR"]["2"] == pytest.approx(0.3)
    assert m["per_predicate"]["gt_images"] == [0, 1, 2, 0, 0]


def test_zero_and_few_shot_recall_average_only_over_images_holding_such_triplets():
    # Train counts: (1,2,rel1)=3, (2,3,rel2)=7, (1,2,rel3) unseen. Image A has no zero-shot
    # row; image B has two zero-shot rows (one recalled) and one count-3 row (recalled).
    stats = FakeStatistics({(1, 2, 1): 3, (2, 3, 2): 7})
    image_a = gt_image([B0, B1, B2], [1, 2, 3], [[0, 1, 1], [1, 2, 2]])
    pred_a = all_pairs_prediction([B0, B1, B2], [1, 2, 3], [1, 1, 1], [[0, 1]], [{1: 0.9}])
    image_b = gt_image([B0, B1, B2], [1, 2, 2], [[0, 1, 3], [0, 2, 3], [0, 1, 1]])
    pred_b = all_pairs_prediction([B0, B1, B2], [1, 2, 2], [1, 1, 1], [[0, 1], [0, 2]],
                                  [{3: 0.9, 1: 0.8}, {4: 0.7}])
    groups = [zero_shot_group(), few_shot_bin_group(1, 5), few_shot_bin_group(6, 10),
              few_shot_exact_group(3), few_shot_exact_group(4)]
    m = evaluate([image_a, image_b], [pred_a, pred_b], SGGMode.PREDCLS, ks=(1, 2),
                 groups=groups, statistics=stats)
    g = m["triplet_groups"]
    assert stats.calls == 1  # one vectorised lookup for the whole split
    # zero-shot: only image B counts: (0,1,3) hit at rank 0, (0,2,3) never -> 1/2
    assert g["zero-shot"]["R"] == {"1": 0.5, "2": 0.5}
    assert g["zero-shot"]["num_images"] == 1
    # 1-5 bin: image A's (1,2,rel1) row hit -> 1; image B's (1,2,rel1) row: graph R never
    # (pair (0,1) predicts rel3), ng order (0,1,3) .9, (0,1,1) .8, (0,2,4) .7: rank 1
    # -> ngR@1 = mean(1, 0), ngR@2 = mean(1, 1)
    assert g["1-5"]["R"] == {"1": 0.5, "2": 0.5}
    assert g["1-5"]["ngR"] == {"1": 0.5, "2": 1.0}
    assert g["6-10"]["R"] == {"1": 0.0, "2": 0.0} and g["6-10"]["num_images"] == 1
    assert g["3"]["R"] == {"1": 0.5, "2": 0.5}
    assert g["4"]["R"] == {"1": None, "2": None} and g["4"]["num_images"] == 0


def test_zero_shot_membership_from_a_reference_triplet_set():
    # Reference file rows (subject class, object class, predicate); duplicates are allowed.
    image = gt_image([B0, B1], [1, 2], [[0, 1, 3], [1, 0, 1]])
    pred = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[1, 0]], [{1: 0.9}])
    reference = np.array([[2, 1, 1], [2, 1, 1], [4, 4, 4]])
    m = evaluate([image], [pred], SGGMode.PREDCLS, groups=[zero_shot_group(reference)])
    assert m["triplet_groups"]["zero-shot"]["R"]["1"] == 1.0  # only row (2,1,rel1) is zero-shot


def test_no_graph_constraint_ranking_uses_object_scores_except_in_predcls():
    # Pairs in the given order: (0,1) rel1 .6, (0,2) rel2 .5; object scores 1, .5, .9.
    # SGCls ng scores: (0,1,1) = .5*.6 = .30 < (0,2,2) = .9*.5 = .45 -> GT (0,2,rel2) is ng rank 0.
    # PredCls ignores object scores: .6 > .5 -> ng rank 1. Graph-constrained: rank 1 in both.
    gt = gt_image([B0, B1, B2], [1, 2, 3], [[0, 2, 2]])
    pred = all_pairs_prediction([B0, B1, B2], [1, 2, 3], [1.0, 0.5, 0.9], [[0, 1], [0, 2]],
                                [{1: 0.6}, {2: 0.5}])
    sgcls = evaluate([gt], [pred], SGGMode.SGCLS, ks=(1,))
    predcls = evaluate([gt], [pred], SGGMode.PREDCLS, ks=(1,))
    assert (sgcls["R"]["1"], sgcls["ngR"]["1"]) == (0.0, 1.0)
    assert (predcls["R"]["1"], predcls["ngR"]["1"]) == (0.0, 0.0)


def test_pair_accuracy_skips_non_gt_pairs_and_pools_over_images():
    # Image 1: GT (0,1,rel1), (1,2,rel2). Predictions on GT pairs, in order: (0,1) rel2 (miss),
    # (1,2) rel2 (hit). A hits: @1 0, @2 1. Image 2: GT (0,1,rel1), first GT-pair prediction hits.
    # A@K = mean(hits) / mean(#GT): @1 = (0+1)/2 / 1.5 = 1/3; @2 = (1+1)/2 / 1.5 = 2/3.
    gt1 = gt_image([B0, B1, B2], [1, 2, 3], [[0, 1, 1], [1, 2, 2]])
    pred1 = all_pairs_prediction([B0, B1, B2], [1, 2, 3], [1, 1, 1],
                                 [[2, 0], [0, 1], [1, 2], [1, 0]],
                                 [{1: 0.9}, {2: 0.8}, {2: 0.7}, {1: 0.6}])
    gt2 = gt_image([B0, B1], [1, 2], [[0, 1, 1]])
    pred2 = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[1, 0], [0, 1]],
                                 [{1: 0.9}, {1: 0.8}])
    m = evaluate([gt1, gt2], [pred1, pred2], SGGMode.SGCLS, ks=(1, 2))
    assert m["A"] == pytest.approx({"1": 1 / 3, "2": 2 / 3})
    assert m["R"] == pytest.approx({"1": 0.0, "2": 0.5})  # image 1: 0, 0; image 2: 0, 1
    assert evaluate([gt1], [pred1], SGGMode.SGDET, ks=(1,))["A"] is None


def test_ties_break_to_the_earlier_pair_then_the_lower_predicate():
    # Every score .3 except (1,0) rel2 = .1. Graph constraint: argmax tie -> rel1.
    # ng order: (0,1,1), (0,1,2), (1,0,1), then zeros... GT (1,0,rel1) is ng rank 2.
    gt = gt_image([B0, B1], [1, 2], [[1, 0, 1], [0, 1, 2]])
    pred = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[0, 1], [1, 0]],
                                [{1: 0.3, 2: 0.3}, {1: 0.3, 2: 0.1}])
    m = evaluate([gt], [pred], SGGMode.PREDCLS, ks=(1, 2, 3))
    assert m["R"] == {"1": 0.0, "2": 0.5, "3": 0.5}  # (0,1,1) miss, (1,0,1) hit; rel2 never
    assert m["ngR"] == {"1": 0.0, "2": 0.5, "3": 1.0}


def test_images_without_gt_relations_count_nowhere_and_empty_predictions_count_zero(eval_log):
    recalled = gt_image([B0, B1], [1, 2], [[0, 1, 1]])
    pred = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[0, 1]], [{1: 0.9}])
    no_relations = gt_image([B0], [1], np.zeros((0, 3)))
    empty = prediction([B0, B1], [1, 2], [1, 1], np.zeros((0, 2)), np.zeros((0, 6)))
    m = evaluate([recalled, no_relations, recalled], [pred, pred, empty], SGGMode.PREDCLS)
    assert m["num_images"] == 3 and m["num_images_with_relations"] == 2
    assert m["R"]["3"] == 0.5  # mean(1, 0): the image without relations is not averaged
    assert "no predicted pairs" in eval_log.text


def test_predictions_are_resized_to_the_original_image_first():
    # Network frame 50x50, original 100x100: boxes double before matching (SGDet).
    gt = gt_image([[0, 0, 40, 40], [60, 60, 98, 98]], [1, 2], [[0, 1, 1]])
    pred = all_pairs_prediction([[0, 0, 20, 20], [30, 30, 49, 49]], [1, 2], [1, 1], [[0, 1]],
                                [{1: 0.9}], size=(50, 50))
    assert evaluate([gt], [pred], SGGMode.SGDET)["R"]["1"] == 1.0


def test_predcls_uses_gt_boxes_and_labels_sgcls_uses_predicted_labels():
    gt = gt_image([B0, B1], [1, 2], [[0, 1, 1]])
    pred = all_pairs_prediction([B2, B2], [3, 3], [0.1, 0.1], [[0, 1]], [{1: 0.9}])
    assert evaluate([gt], [pred], SGGMode.PREDCLS)["R"]["1"] == 1.0
    assert evaluate([gt], [pred], SGGMode.SGCLS)["R"]["1"] == 0.0


def test_invalid_predictions_give_one_clear_error():
    gt = gt_image([B0, B1], [1, 2], [[0, 1, 1]])
    out_of_range = all_pairs_prediction([B0, B1, B2], [1, 2, 3], [1, 1, 1], [[0, 2]], [{1: 0.9}])
    with pytest.raises(ValueError, match="rel_pair_idxs refer to box 2"):
        evaluate([gt], [out_of_range], SGGMode.PREDCLS)
    nan_scores = rel_score_rows([{1: 0.9}])
    nan_scores[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate([gt], [prediction([B0, B1], [1, 2], [1, 1], [[0, 1]], nan_scores)],
                 SGGMode.SGDET)
    wrong_width = prediction([B0, B1], [1, 2], [1, 1], [[0, 1]], np.full((1, 4), 0.25))
    with pytest.raises(ValueError, match="MODEL.ROI_RELATION_HEAD.NUM_CLASSES"):
        evaluate([gt], [wrong_width], SGGMode.PREDCLS)
    with pytest.raises(ValueError, match="1 predictions for a dataset of 2 images"):
        evaluate([gt, gt], [wrong_width], SGGMode.PREDCLS)
    bad_gt = gt_image([B0, B1], [1, 2], [[0, 1, 7]])
    good = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[0, 1]], [{1: 0.9}])
    with pytest.raises(ValueError, match="GT predicate labels span 7..7"):
        evaluate([bad_gt], [good], SGGMode.PREDCLS)


def test_inconsistent_gt_is_reported_with_the_image_index():
    bad = gt_image([B0, B1], [1, 2], [[0, 3, 1]])
    good = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[0, 1]], [{1: 0.9}])
    with pytest.raises(ValueError, match="image 0: GT relation_tuple refers to box 3"):
        evaluate([bad], [good], SGGMode.SGDET)


def test_sgcls_with_fewer_predicted_boxes_than_gt_boxes(eval_log):
    # The GT has 3 boxes, the prediction 2 (SGB warns); GT row (0,1,rel1) is still recalled.
    gt = gt_image([B0, B1, B2], [1, 2, 3], [[0, 1, 1], [1, 2, 2]])
    pred = all_pairs_prediction([B0, B1], [1, 2], [1, 1], [[0, 1], [1, 0]], [{1: 0.9}, {1: 0.1}])
    m = evaluate([gt], [pred], SGGMode.SGCLS, ks=(1,))
    assert (m["R"]["1"], m["A"]["1"]) == (0.5, 0.5)
    assert "Num of GT boxes is not matching with num of pred boxes in SGCLS" in eval_log.text
