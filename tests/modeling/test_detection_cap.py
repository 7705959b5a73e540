"""DETECTIONS_PER_IMG is a hard cap: tied scores (an untrained detector's saturated softmax)
no longer let hundreds of boxes, and O(n^2) pairs, through to the relation head."""

import torch

from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.roi_heads.box_head.inference import (
    PostProcessor,
    keep_top_scores,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from tests.modeling.relation_data.synthetic import detector_cfg, make_statistics

CODER = BoxCoder((10.0, 10.0, 5.0, 5.0))


def _disjoint_proposals(num: int) -> BoxList:
    """``num`` 8 x 8 boxes on a row, 10 px apart: per-class NMS removes none of them."""
    x = torch.arange(num, dtype=torch.float32) * 10
    boxes = torch.stack((x, torch.zeros(num), x + 7, torch.full((num,), 7.0)), dim=1)
    return BoxList(boxes, (int(x[-1]) + 10, 10))


def test_saturated_scores_keep_exactly_detections_per_img_earliest_first():
    num, num_classes, cap = 20, 4, 8
    proposals = _disjoint_proposals(num)
    logits = torch.zeros(num, num_classes)
    logits[:, 2] = 1000.0  # softmax 1.0 for class 2 everywhere: 20 scores tied at the cut
    deltas = torch.zeros(num, num_classes * 4)
    (result,), (orig,) = PostProcessor(0.05, 0.5, 100, True, cap, CODER, False)(
        logits, deltas, [proposals])
    assert len(result) == cap  # SGB's kth-value rule keeps all 20
    assert orig.tolist() == list(range(cap))  # ties go to the earlier (higher-objectness) one
    assert result.get_field("pred_labels").tolist() == [2] * cap
    assert torch.equal(result.bbox, proposals.bbox[:cap])


def test_keep_top_scores_equals_the_kth_value_cut_when_scores_are_distinct():
    g = torch.Generator().manual_seed(0)
    for k in (1, 5, 17):
        scores = torch.randperm(40, generator=g).float() / 40
        threshold = torch.kthvalue(scores, len(scores) - k + 1).values
        sgb = torch.nonzero(scores >= threshold).squeeze(1)
        assert keep_top_scores(scores, k).tolist() == sgb.tolist()


def test_keep_top_scores_breaks_ties_by_position_and_keeps_order():
    scores = torch.tensor([0.2, 0.9, 0.5, 0.9, 0.5, 0.5, 0.1])
    # 0.9 (1), 0.9 (3), then the first two of the three tied 0.5s (2, 4); returned in order.
    assert keep_top_scores(scores, 4).tolist() == [1, 2, 3, 4]
    assert keep_top_scores(scores, 7).tolist() == list(range(7))


def test_sgdet_relation_pairs_are_bounded_with_a_saturated_untrained_detector():
    torch.manual_seed(0)
    cfg = detector_cfg("MotifPredictor", "sgdet")
    cfg.TEST.RELATION.REQUIRE_OVERLAP = False  # the recipes' setting: every ordered pair
    cap = cfg.MODEL.ROI_HEADS.DETECTIONS_PER_IMG
    model = build_detection_model(cfg, make_statistics()).eval()
    with torch.no_grad():  # an untrained detector whose softmax saturates: every score is 1.0
        model.roi_heads.box.predictor.cls_score.bias[1] = 1000.0
    image = torch.randn(3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        (prediction,) = model([image])
    assert len(prediction) == cap  # 40 proposals, over 8 of them with scores tied at 1.0
    assert len(prediction.get_field("rel_pair_idxs")) == cap * (cap - 1)
