"""Box head: +1 NMS, post-processing against a slow SGB-style reference, sampling, losses."""

import math

import pytest
import torch
import torch.nn.functional as F

from maskrcnn_benchmark.layers import batched_nms, nms
from maskrcnn_benchmark.modeling.balanced_positive_negative_sampler import (
    BalancedPositiveNegativeSampler,
)
from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.modeling.matcher import Matcher
from maskrcnn_benchmark.modeling.roi_heads.box_head.inference import PostProcessor
from maskrcnn_benchmark.modeling.roi_heads.box_head.loss import FastRCNNLossComputation
from maskrcnn_benchmark.modeling.roi_heads.box_head.sampling import FastRCNNSampling
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.boxlist_ops import box_iou_xyxy

CODER = BoxCoder((10.0, 10.0, 5.0, 5.0))


def _slow_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """Greedy NMS with the +1 pixel IoU of maskrcnn-benchmark's kernels."""
    keep: list[int] = []
    for i in scores.argsort(descending=True).tolist():
        if all(box_iou_xyxy(boxes[i:i + 1], boxes[k:k + 1]).item() <= threshold for k in keep):
            keep.append(i)
    return keep


def test_nms_measures_iou_with_the_plus_one_convention():
    boxes = torch.tensor([[0.0, 0.0, 9.0, 9.0], [0.0, 0.0, 9.0, 4.0]])
    scores = torch.tensor([0.9, 0.8])
    # +1 IoU = 50 / 100 = 0.5 (torchvision's continuous IoU would be 36 / 81 = 0.44)
    assert nms(boxes, scores, 0.47).tolist() == [0]
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]


def test_nms_equals_a_slow_greedy_reference():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + torch.rand(60, 2, generator=g) * 30 + 2], dim=1)
    scores = torch.rand(60, generator=g)
    assert nms(boxes, scores, 0.4).tolist() == _slow_nms(boxes, scores, 0.4)
    groups = torch.randint(0, 3, (60,), generator=g)
    kept = set(batched_nms(boxes, scores, groups, 0.4).tolist())
    expected = set()
    for c in range(3):
        idx = torch.nonzero(groups == c).squeeze(1)
        expected |= {idx[k].item() for k in _slow_nms(boxes[idx], scores[idx], 0.4)}
    assert kept == expected


def _slow_post_process(boxes_per_cls, scores, thresh, nms_thresh, topn, filter_dup, max_det):
    """SGB's filter_results: a class loop, optional duplicate filter, kth-value cap."""
    num_classes = scores.shape[1]
    boxes, labels, kept_scores, orig = [], [], [], []
    for j in range(1, num_classes):
        inds = torch.nonzero(scores[:, j] > thresh).squeeze(1)
        keep = _slow_nms(boxes_per_cls[inds, j], scores[inds, j], nms_thresh)[:topn]
        inds = inds[torch.tensor(keep, dtype=torch.long)]
        orig.append(inds)
        labels += [j] * len(inds)
    orig_all = torch.cat(orig)
    labels = torch.tensor(labels, dtype=torch.long)
    if filter_dup:
        mask = torch.zeros_like(scores)
        for j, inds in enumerate(orig, start=1):
            mask[inds, j] = 1
        best, best_label = (scores * mask).max(1)
        orig_all = torch.nonzero(best).squeeze(1)
        labels = best_label[orig_all]
    kept_scores = scores[orig_all, labels]
    if len(kept_scores) > max_det:
        kth = torch.kthvalue(kept_scores, len(kept_scores) - max_det + 1).values
        sel = kept_scores >= kth
        orig_all, labels, kept_scores = orig_all[sel], labels[sel], kept_scores[sel]
    boxes = boxes_per_cls[orig_all, labels]
    return boxes, kept_scores, labels, orig_all


def _random_detection_inputs(seed: int, num_props: int = 40, num_classes: int = 4):
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(5, 2, generator=g) * 80 + 10  # clustered proposals -> real NMS work
    pick = torch.randint(0, 5, (num_props,), generator=g)
    xy = centres[pick] + torch.randn(num_props, 2, generator=g) * 3
    wh = torch.rand(num_props, 2, generator=g) * 20 + 15
    proposals = BoxList(torch.cat([xy - wh / 2, xy + wh / 2], dim=1), (100, 90))
    logits = torch.randn(num_props, num_classes, generator=g) * 2
    deltas = torch.randn(num_props, 4 * num_classes, generator=g) * 0.5
    return proposals, logits, deltas


@pytest.mark.parametrize("filter_duplicates", [False, True])
def test_post_processor_equals_the_slow_reference(filter_duplicates):
    proposals, logits, deltas = _random_detection_inputs(seed=3)
    post = PostProcessor(0.05, 0.3, 4, filter_duplicates, 9, CODER, False)
    (result,), (orig,) = post(logits, deltas, [proposals])
    decoded = BoxList(CODER.decode(deltas, proposals.bbox).reshape(-1, 4), proposals.size)
    boxes_per_cls = decoded.clip_to_image(remove_empty=False).bbox.reshape(-1, 4, 4)
    boxes, scores, labels, orig_ref = _slow_post_process(
        boxes_per_cls, F.softmax(logits, -1), 0.05, 0.3, 4, filter_duplicates, 9)
    assert len(result) == 9
    assert result.get_field("pred_labels").tolist() == labels.tolist()
    assert orig.tolist() == orig_ref.tolist()
    torch.testing.assert_close(result.get_field("pred_scores"), scores)
    torch.testing.assert_close(result.bbox, boxes)
    if filter_duplicates:
        assert len(set(orig.tolist())) == len(orig)


def test_relation_mode_keeps_per_class_boxes_logits_and_matched_labels():
    proposals, logits, deltas = _random_detection_inputs(seed=5)
    proposals.add_field("predict_logits", logits)
    proposals.add_field("labels", torch.arange(len(proposals)) % 4)
    post = PostProcessor(0.05, 0.3, 300, True, 100, CODER, False)
    (result,), (orig,) = post(logits, deltas, [proposals], relation_mode=True)
    assert result.get_field("boxes_per_cls").shape == (len(result), 4, 4)
    assert torch.equal(result.get_field("predict_logits"), logits[orig])
    assert torch.equal(result.get_field("labels"), proposals.get_field("labels")[orig])
    rows = torch.arange(len(result))
    assert torch.equal(result.get_field("boxes_per_cls")[rows, result.get_field("pred_labels")],
                       result.bbox)


def test_class_agnostic_regression_uses_the_foreground_slot_for_every_class():
    proposals, logits, _ = _random_detection_inputs(seed=7)
    deltas = torch.randn(len(proposals), 8)
    post = PostProcessor(0.0, 1.0, 300, False, 0, CODER, True)
    (result,), (orig,) = post(logits, deltas, [proposals])
    expected = BoxList(CODER.decode(deltas[:, 4:], proposals.bbox), proposals.size)
    torch.testing.assert_close(result.bbox, expected.clip_to_image(False).bbox[orig])


def _sampling(batch: int = 64, fraction: float = 0.25) -> FastRCNNSampling:
    return FastRCNNSampling(Matcher(0.5, 0.3), BalancedPositiveNegativeSampler(batch, fraction),
                            CODER)


def _gt() -> BoxList:
    gt = BoxList(torch.tensor([[10.0, 10.0, 49.0, 49.0]]), (100, 100))
    gt.add_field("labels", torch.tensor([3]))
    return gt


def test_sampling_labels_foreground_background_and_skips_the_ignored_band():
    # IoU with the 40x40 GT: 1.0, 0.64 (fg), 0.4 (ignored band), 0 (bg)
    proposals = BoxList(torch.tensor([[10.0, 10.0, 49.0, 49.0], [10.0, 10.0, 41.0, 41.0],
                                      [10.0, 10.0, 49.0, 25.0], [60.0, 60.0, 90.0, 90.0]]),
                        (100, 100))
    (sampled,) = _sampling().subsample([proposals], [_gt()])
    assert sorted(sampled.bbox[:, 2].tolist()) == [41.0, 49.0, 90.0]
    labels = dict(zip(sampled.bbox[:, 2].tolist(), sampled.get_field("labels").tolist()))
    assert labels == {49.0: 3, 41.0: 3, 90.0: 0}
    first = sampled.bbox[:, 2] == 49.0
    assert torch.allclose(sampled.get_field("regression_targets")[first], torch.zeros(1, 4))


def test_sampling_caps_the_batch_and_the_foreground_fraction():
    g = torch.Generator().manual_seed(0)
    jitter = torch.rand(40, 4, generator=g) * 2
    fg = torch.tensor([[10.0, 10.0, 49.0, 49.0]]) + jitter
    bg = torch.tensor([[60.0, 60.0, 90.0, 90.0]]) + jitter
    (sampled,) = _sampling(batch=16, fraction=0.25).subsample(
        [BoxList(torch.cat([fg, bg]), (100, 100))], [_gt()])
    labels = sampled.get_field("labels")
    assert len(sampled) == 16 and int((labels > 0).sum()) == 4


def test_sampling_without_gt_gives_only_background():
    proposals, _, _ = _random_detection_inputs(seed=1)
    empty = BoxList(torch.zeros(0, 4), proposals.size)
    empty.add_field("labels", torch.zeros(0, dtype=torch.long))
    (sampled,) = _sampling().subsample([proposals], [empty])
    assert len(sampled) == len(proposals) and not sampled.get_field("labels").any()


def _with_targets(labels, targets):
    boxes = BoxList(torch.zeros(len(labels), 4), (10, 10))
    boxes.add_field("labels", torch.tensor(labels))
    boxes.add_field("regression_targets", targets)
    return boxes


def test_box_losses_match_hand_computation():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    deltas = torch.zeros(2, 12)
    deltas[1, 8:12] = torch.tensor([0.5, -2.0, 0.0, 0.0])  # class 2 slot of the positive
    targets = torch.zeros(2, 4)
    proposals = [_with_targets([0, 2], targets)]
    loss_cls, loss_box = FastRCNNLossComputation(False)(logits, deltas, proposals)
    expected_cls = -(F.log_softmax(logits, -1)[0, 0] + F.log_softmax(logits, -1)[1, 2]) / 2
    torch.testing.assert_close(loss_cls, expected_cls)
    # smooth L1 with beta 1: 0.5 * 0.5^2 + (2 - 0.5) = 1.625, divided by the 2 sampled RoIs
    torch.testing.assert_close(loss_box, torch.tensor(1.625 / 2))


def test_box_loss_is_zero_without_foreground():
    logits = torch.randn(3, 3, requires_grad=True)
    deltas = torch.randn(3, 12, requires_grad=True)
    loss_cls, loss_box = FastRCNNLossComputation(False)(
        logits, deltas, [_with_targets([0, 0, 0], torch.randn(3, 4))])
    assert loss_box.item() == 0.0 and torch.isfinite(loss_cls)
    (loss_cls + loss_box).backward()
    assert torch.count_nonzero(deltas.grad) == 0


def test_class_agnostic_loss_reads_columns_four_to_seven():
    deltas = torch.zeros(1, 8)
    deltas[0, 4] = 3.0
    _, loss_box = FastRCNNLossComputation(True)(
        torch.zeros(1, 3), deltas, [_with_targets([2], torch.zeros(1, 4))])
    torch.testing.assert_close(loss_box, torch.tensor(2.5))


def test_matcher_low_quality_matches_and_empty_gt():
    iou = torch.tensor([[0.1, 0.4, 0.8], [0.25, 0.2, 0.1]])
    assert Matcher(0.7, 0.3)(iou.clone()).tolist() == [-1, -2, 0]
    assert Matcher(0.7, 0.3, allow_low_quality_matches=True)(iou.clone()).tolist() == [1, -2, 0]
    assert Matcher(0.7, 0.3)(torch.zeros(0, 4)).tolist() == [-1, -1, -1, -1]
    with pytest.raises(ValueError, match="IOU_THRESHOLD"):
        Matcher(0.3, 0.7)


def test_smooth_l1_has_beta_transition():
    from maskrcnn_benchmark.layers import smooth_l1_loss

    x = torch.tensor([0.05, 0.5])
    loss = smooth_l1_loss(x, torch.zeros(2), beta=1.0 / 9, size_average=False)
    assert math.isclose(loss.item(), 0.5 * 0.05**2 * 9 + (0.5 - 0.5 / 9), rel_tol=1e-6)
