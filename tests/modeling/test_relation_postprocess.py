"""Relation post-processor and SGDet's late per-class NMS, against slow reference versions."""

import numpy as np
import torch

from maskrcnn_benchmark.modeling.roi_heads.relation_head.inference import RelationPostProcessor
from maskrcnn_benchmark.modeling.roi_heads.relation_head.object_nms import (
    greedy_label_nms,
    per_class_box_overlaps,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.boxlist_ops import box_iou_xyxy


def _reference_label_nms(logits, boxes_per_cls, thresh):
    """SGB's obj_prediction_nms, literally, in NumPy."""
    num_obj, num_cls = logits.shape
    overlaps = np.stack([box_iou_xyxy(boxes_per_cls[:, c], boxes_per_cls[:, c]).numpy()
                         for c in range(num_cls)], axis=2) >= thresh
    probs = torch.softmax(logits, 1).numpy().copy()
    probs[:, 0] = 0
    labels = np.zeros(num_obj, dtype=np.int64)
    for _ in range(num_obj):
        box, cls = np.unravel_index(probs.argmax(), probs.shape)
        if labels[box] <= 0:
            labels[box] = cls
        probs[overlaps[box, :, cls], cls] = 0.0
        probs[box] = -1.0
    return labels


def _random_boxes_per_cls(num, num_cls, generator):
    centres = torch.rand(num, 1, 2, generator=generator) * 40
    centres = centres + torch.randn(num, num_cls, 2, generator=generator)
    sizes = 8 + torch.rand(num, num_cls, 2, generator=generator) * 10
    return torch.cat((centres, centres + sizes), dim=2)


def test_per_class_overlaps_match_boxlist_iou():
    boxes = _random_boxes_per_cls(5, 3, torch.Generator().manual_seed(0))
    overlaps = per_class_box_overlaps(boxes)
    for c in range(3):
        assert torch.allclose(overlaps[:, :, c], box_iou_xyxy(boxes[:, c], boxes[:, c]))


def test_greedy_label_nms_matches_sgb_loop():
    generator = torch.Generator().manual_seed(1)
    for trial in range(5):
        num, num_cls = 7 + trial, 5
        logits = torch.randn(num, num_cls, generator=generator) * 3
        boxes = _random_boxes_per_cls(num, num_cls, generator)
        for thresh in (0.3, 0.5):
            ours = greedy_label_nms(logits, boxes, thresh)
            assert ours.tolist() == _reference_label_nms(logits, boxes, thresh).tolist()


def test_greedy_label_nms_suppresses_duplicates_of_the_same_class():
    boxes = torch.tensor([[0.0, 0, 20, 20], [1, 1, 21, 21], [50, 50, 70, 70]])
    boxes_per_cls = boxes[:, None, :].expand(3, 3, 4)
    logits = torch.log(torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.7, 0.2], [0.1, 0.6, 0.3]]))
    # Box 1 overlaps box 0, so class 1 is taken from it and it falls back to class 2.
    assert greedy_label_nms(logits, boxes_per_cls, 0.5).tolist() == [1, 2, 1]


def _reference_ranking(rel_logits, obj_scores, pairs):
    probs = torch.softmax(rel_logits, 1)
    scores = [float(probs[i, 1:].max()) * float(obj_scores[s]) * float(obj_scores[o])
              for i, (s, o) in enumerate(pairs.tolist())]
    # Descending score, equal scores keep the lower index first.
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def test_gt_box_post_processing_labels_scores_and_ranking():
    generator = torch.Generator().manual_seed(2)
    box = BoxList(torch.rand(4, 4, generator=generator) * 10 + torch.tensor([0, 0, 20, 20]),
                  (40, 40))
    box.add_field("labels", torch.tensor([3, 1, 2, 5]))
    obj_logits = torch.randn(4, 6, generator=generator)
    obj_logits[0, 0] = 50.0  # background is never the label
    pairs = torch.tensor([[0, 1], [1, 0], [2, 3], [3, 1], [2, 0]])
    rel_logits = torch.randn(5, 4, generator=generator)
    result = RelationPostProcessor(use_gt_box=True, later_nms_thresh=0.3)(
        [rel_logits], [obj_logits], [pairs], [box])[0]
    probs = torch.softmax(obj_logits, 1)
    expected_scores, expected_labels = probs[:, 1:].max(1)
    assert torch.equal(result.get_field("pred_labels"), expected_labels + 1)
    assert torch.allclose(result.get_field("pred_scores"), expected_scores)
    assert torch.equal(result.bbox, box.bbox)
    assert torch.equal(result.get_field("labels"), box.get_field("labels"))
    order = _reference_ranking(rel_logits, expected_scores, pairs)
    assert result.get_field("rel_pair_idxs").tolist() == pairs[order].tolist()
    assert torch.allclose(result.get_field("pred_rel_scores"), torch.softmax(rel_logits, 1)[order])
    assert torch.allclose(result.get_field("pred_rel_scores").sum(1), torch.ones(5))
    assert result.get_field("pred_rel_labels").tolist() == (
        rel_logits[order, 1:].argmax(1) + 1).tolist()


def test_ranking_ties_keep_the_lower_pair_index_first():
    box = BoxList(torch.tensor([[0.0, 0, 5, 5]] * 3), (10, 10))
    pairs = torch.tensor([[0, 1], [0, 2], [1, 2], [2, 0]])
    rel_logits = torch.tensor([[0.0, 1, 0], [0.0, 2, 0], [0.0, 1, 0], [0.0, 2, 0]])
    result = RelationPostProcessor(use_gt_box=True, later_nms_thresh=0.3)(
        [rel_logits], [torch.zeros(3, 4)], [pairs], [box])[0]
    assert result.get_field("rel_pair_idxs").tolist() == [[0, 2], [2, 0], [0, 1], [1, 2]]


def test_sgdet_post_processing_uses_nms_labels_and_their_class_boxes():
    generator = torch.Generator().manual_seed(3)
    num, num_cls = 6, 4
    boxes_per_cls = _random_boxes_per_cls(num, num_cls, generator)
    proposal = BoxList(boxes_per_cls[:, 0], (64, 64))
    proposal.add_field("boxes_per_cls", boxes_per_cls)
    obj_logits = torch.randn(num, num_cls, generator=generator)
    pairs = torch.tensor([[0, 1], [2, 3], [4, 5]])
    result = RelationPostProcessor(use_gt_box=False, later_nms_thresh=0.3)(
        [torch.randn(3, 5, generator=generator)], [obj_logits], [pairs], [proposal])[0]
    labels = torch.from_numpy(_reference_label_nms(obj_logits, boxes_per_cls, 0.3))
    assert torch.equal(result.get_field("pred_labels"), labels)
    probs = torch.softmax(obj_logits, 1)
    probs[:, 0] = 0
    assert torch.allclose(result.get_field("pred_scores"), probs[torch.arange(num), labels])
    assert torch.equal(result.bbox, boxes_per_cls[torch.arange(num), labels])
