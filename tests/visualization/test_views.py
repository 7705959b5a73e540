"""Panel inputs: ranking, top-K / threshold, statuses from a visualization record, differences."""

import numpy as np
import pytest
import torch

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.visualization import (
    GraphView,
    mark_differences,
    rank_triplets,
    record_views,
    view_from_custom,
    view_from_prediction,
)

CLASSES = ["__background__", "a", "b", "c"]
PREDICATES = ["__background__", "on", "has", "near"]


def test_rank_triplets_sorts_cuts_and_keeps_ties_in_order():
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.1])
    assert rank_triplets(scores, None, None).tolist() == [1, 3, 2, 0, 4]
    assert rank_triplets(scores, 2, None).tolist() == [1, 3]
    assert rank_triplets(scores, None, 0.3).tolist() == [1, 3, 2]
    with pytest.raises(ValueError, match="NaN"):
        rank_triplets(np.array([np.nan]), 1, None)


def _record():
    """GT: 3 boxes, relations (0,1,on) twice, (1,2,has), (0,2,near); predictions: box 0 shifted
    (IoU 0.9), box 1 exact with score 0.5, box 2 too far (IoU 0.14), box 3 = GT box 2."""
    t = torch.tensor
    return {
        "gt_boxes": t([[0., 0, 9, 9], [20, 20, 39, 39], [50, 0, 69, 19]]),
        "gt_labels": t([1, 2, 3]),
        "gt_relations": t([[0, 1, 1], [1, 2, 2], [0, 2, 3], [0, 1, 1]]),
        "boxes": t([[1., 0, 9, 9], [20, 20, 39, 39], [60, 10, 79, 29], [50, 0, 69, 19]]),
        "labels": t([1, 2, 3, 3]),
        "scores": t([1.0, 0.5, 1.0, 1.0]),
        "rel_pairs": t([[0, 1], [0, 3], [1, 2], [0, 1]]),
        "rel_labels": t([1, 3, 2, 2]),
        "rel_scores": t([0.9, 0.8, 0.7, 0.6]),
    }


def _zero_shot(rows):
    """(a, c, near) and (b, c, has) never occur in train."""
    return np.array([tuple(r) in {(1, 3, 3), (2, 3, 2)} for r in rows.tolist()])


def test_record_statuses_follow_the_matching_rule():
    views = record_views(_record(), CLASSES, PREDICATES, top_k=None, zero_shot=_zero_shot)
    assert views.prediction.relation_status == ["matched", "zero-shot", "unmatched", "unmatched"]
    assert views.prediction.scores == pytest.approx([0.45, 0.8, 0.35, 0.3])  # x object scores
    assert views.prediction.box_ids == [0, 1, 2, 3]
    assert views.gt.relations == [(0, 1, "on"), (1, 2, "has"), (0, 2, "near")]  # duplicate once
    assert views.gt.relation_status == ["matched", "zero-shot missed", "zero-shot"]
    assert views.gt_zero_shot.tolist() == [False, True, True]
    assert (views.recalled, views.zero_shot_recalled) == (2, 1)
    assert views.plain_gt.relation_status == ["gt", "zero-shot gt", "zero-shot gt"]


@pytest.mark.parametrize("top_k,threshold", [(1, None), (None, 0.5)])
def test_record_top_k_and_threshold_cut_predictions_and_recall(top_k, threshold):
    # stored (evaluation) order is kept: the threshold drops rows, it does not re-sort them
    views = record_views(_record(), CLASSES, PREDICATES, top_k=top_k, threshold=threshold,
                         zero_shot=_zero_shot)
    assert len(views.prediction.relations) == 1  # threshold: 0.45 < 0.5, only 0.8 passes
    assert views.prediction.relation_status == (["matched"] if top_k else ["zero-shot"])
    assert views.prediction.box_ids == ([0, 1] if top_k else [0, 3])
    assert views.recalled == 1 and views.zero_shot_recalled == (0 if top_k else 1)


def test_record_without_zero_shot_information_has_no_zero_shot_status():
    views = record_views(_record(), CLASSES, PREDICATES, top_k=None)
    assert views.prediction.relation_status == ["matched", "matched", "unmatched", "unmatched"]
    assert views.gt.relation_status == ["matched", "missed", "matched"]


def test_view_from_prediction_ranks_by_triplet_score_and_resizes():
    prediction = BoxList(torch.tensor([[0., 0, 9, 9], [10, 10, 19, 19], [20, 0, 29, 9]]), (50, 40))
    prediction.add_field("pred_labels", torch.tensor([1, 2, 3]))
    prediction.add_field("pred_scores", torch.tensor([1.0, 0.5, 1.0]))
    prediction.add_field("rel_pair_idxs", torch.tensor([[0, 1], [1, 2], [2, 0]]))
    prediction.add_field("pred_rel_scores", torch.tensor(
        [[0.1, 0.8, 0.05, 0.05], [0.05, 0.05, 0.05, 0.85], [0.2, 0.1, 0.6, 0.1]]))
    view = view_from_prediction(prediction, CLASSES, PREDICATES, image_size=(100, 80), top_k=2)
    # triplet scores 0.4, 0.425, 0.6: (2 has 0) first, then (1 near 2)
    assert view.relations == [(2, 0, "has"), (1, 2, "near")]
    assert view.scores == pytest.approx([0.6, 0.425])
    assert view.box_labels == ["a", "b", "c"] and view.box_ids == [0, 1, 2]
    assert view.boxes[2].tolist() == pytest.approx([40, 0, 58, 18])  # x 2 in both directions
    assert view.relation_status == ["predicted", "predicted"]


def test_view_from_custom_checks_and_ranks():
    entry = {"bbox": [[0, 0, 9, 9], [10, 10, 19, 19], [20, 0, 29, 9]], "bbox_labels": [1, 2, 3],
             "bbox_scores": [1.0, 0.9, 0.2], "rel_pairs": [[2, 0], [0, 1], [1, 0]],
             "rel_labels": [1, 2, 3], "rel_scores": [0.9, 0.8, 0.3]}
    view = view_from_custom(entry, CLASSES, PREDICATES, top_k=2, box_scale=(0.5, 2.0))
    # triplet scores 0.18, 0.72, 0.27: SGB's stored order (by predicate score) is re-ranked
    assert view.relations == [(0, 1, "has"), (1, 0, "near")]
    assert view.box_ids == [0, 1]
    assert view.boxes[1].tolist() == pytest.approx([5, 20, 9.5, 38])
    with pytest.raises(KeyError, match="rel_scores"):
        view_from_custom({k: v for k, v in entry.items() if k != "rel_scores"}, CLASSES,
                         PREDICATES)
    with pytest.raises(ValueError, match="object class index 7"):
        view_from_custom({**entry, "bbox_labels": [1, 2, 7]}, CLASSES, PREDICATES)


def test_mark_differences_compares_classes_predicate_and_boxes():
    boxes = np.array([[0., 0, 9, 9], [20, 20, 39, 39]])
    a = GraphView(boxes, ["a", "b"], [(0, 1, "on"), (1, 0, "has")])
    b = GraphView(boxes + 1, ["a", "b"], [(0, 1, "on"), (1, 0, "near")])  # IoU 0.68: same boxes
    c = GraphView(boxes + 6, ["a", "b"], [(0, 1, "on")])  # IoU 0.09: other boxes
    marked = mark_differences([a, b])
    assert marked[0].marked == [False, True] and marked[1].marked == [False, True]
    assert mark_differences([a, c])[0].marked == [True, True]
    assert a.marked is None  # the inputs are not changed
