"""RPN: reference cell anchors, anchor counts and order, proposal selection, losses."""

import json
import math
from pathlib import Path

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.modeling.rpn import build_rpn
from maskrcnn_benchmark.modeling.rpn.anchor_generator import AnchorGenerator
from maskrcnn_benchmark.modeling.rpn.inference import RPNPostProcessor
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.image_list import ImageList

DATA = Path(__file__).parent / "data"
MOTIFS_RATIOS = (0.23232838, 0.63365731, 1.28478321, 3.15089189)


def _reference_anchors(model: str) -> list[torch.Tensor]:
    levels = json.loads((DATA / "sgb_cell_anchors.json").read_text())[model]
    return [torch.tensor(levels[f"rpn.anchor_generator.cell_anchors.{i}"])
            for i in range(len(levels))]


def test_fpn_cell_anchors_equal_the_reference_buffers():
    generator = AnchorGenerator((32, 64, 128, 256, 512), MOTIFS_RATIOS, (4, 8, 16, 32, 64))
    ours = list(generator.cell_anchors)
    reference = _reference_anchors("X-101-32x8d-FPN")
    assert len(ours) == 5
    for mine, theirs in zip(ours, reference):
        assert torch.equal(mine, theirs)
    assert ours[0].tolist()[0] == [-30.0, -6.0, 33.0, 9.0]


def test_single_level_cell_anchors_equal_the_reference_buffer():
    generator = AnchorGenerator((32, 64, 128, 256, 512), MOTIFS_RATIOS, (16,))
    (ours,) = list(generator.cell_anchors)
    (reference,) = _reference_anchors("VGG-16")
    assert ours.shape == (20, 4) and torch.equal(ours, reference)


def test_anchor_counts_order_and_visibility():
    generator = AnchorGenerator((16, 32), (0.5, 1.0, 2.0), (8, 16), straddle_thresh=0)
    images = ImageList(torch.zeros(1, 3, 40, 64), [(40, 64)])
    features = [torch.zeros(1, 1, 5, 8), torch.zeros(1, 1, 3, 4)]
    (per_level,) = generator(images, features)
    assert [len(a) for a in per_level] == [5 * 8 * 3, 3 * 4 * 3]
    cells = list(generator.cell_anchors)
    for level, (anchors, stride, (h, w)) in enumerate(zip(per_level, (8, 16), ((5, 8), (3, 4)))):
        assert anchors.size == (64, 40)
        for r in range(h):
            for c in range(w):
                for a in range(3):
                    expected = cells[level][a] + torch.tensor([c, r, c, r]) * float(stride)
                    assert torch.equal(anchors.bbox[(r * w + c) * 3 + a], expected)
        box = anchors.bbox
        inside = (box[:, 0] >= 0) & (box[:, 1] >= 0) & (box[:, 2] < 64) & (box[:, 3] < 40)
        assert torch.equal(anchors.get_field("visibility"), inside)
        assert 0 < int(inside.sum()) < len(anchors)
    keep_all = AnchorGenerator((16, 32), (0.5, 1.0, 2.0), (8, 16), straddle_thresh=-1)
    assert all(a.get_field("visibility").all() for a in keep_all(images, features)[0])


def test_fpn_anchor_generator_needs_one_size_per_stride():
    with pytest.raises(ValueError, match="ANCHOR_SIZES"):
        AnchorGenerator((32, 64), (1.0,), (4, 8, 16))


def _tiny_cfg():
    cfg = get_cfg()
    cfg.merge_from_file(str(DATA / "tiny_detector.yaml"))
    return cfg


def test_use_fpn_must_agree_with_the_anchor_strides():
    cfg = _tiny_cfg()
    cfg.MODEL.RPN.USE_FPN = False
    with pytest.raises(ValueError, match="MODEL.RPN.USE_FPN"):
        build_rpn(cfg, 16)


def _one_hot_objectness(num_anchors: int, h: int, w: int, anchor: int, row: int, col: int):
    logits = torch.full((1, num_anchors, h, w), -10.0)
    logits[0, anchor, row, col] = 10.0
    return logits


def test_post_processor_maps_head_outputs_to_their_anchors():
    generator = AnchorGenerator((32,), (0.5, 1.0, 2.0), (16,), straddle_thresh=-1)
    images = ImageList(torch.zeros(1, 3, 64, 96), [(64, 96)])
    features = [torch.zeros(1, 1, 4, 6)]
    anchors = generator(images, features)
    selector = RPNPostProcessor(100, 100, 0.7, 0, BoxCoder((1.0, 1.0, 1.0, 1.0)), 100, False, False)
    objectness = _one_hot_objectness(3, 4, 6, anchor=2, row=1, col=3)
    (proposals,) = selector(anchors, [objectness], [torch.zeros(1, 12, 4, 6)])
    expected = anchors[0][0][torch.tensor([(1 * 6 + 3) * 3 + 2])].clip_to_image(False).bbox[0]
    assert torch.equal(proposals.bbox[0], expected)
    top_score = proposals.get_field("objectness")[0]
    torch.testing.assert_close(top_score, torch.sigmoid(torch.tensor(10.0)))
    scores = proposals.get_field("objectness")
    assert torch.all(scores[:-1] >= scores[1:])


def _rpn_inputs(batch: int):
    generator = AnchorGenerator((16, 32), (0.5, 1.0, 2.0), (8, 16), straddle_thresh=-1)
    images = ImageList(torch.zeros(batch, 3, 64, 64), [(64, 64)] * batch)
    features = [torch.zeros(batch, 1, 8, 8), torch.zeros(batch, 1, 4, 4)]
    g = torch.Generator().manual_seed(0)
    objectness = [torch.randn(batch, 3, s, s, generator=g) for s in (8, 4)]
    deltas = [torch.zeros(batch, 12, 8, 8), torch.zeros(batch, 12, 4, 4)]
    return generator(images, features), objectness, deltas


def test_fpn_post_nms_top_n_per_image_and_per_batch():
    anchors, objectness, deltas = _rpn_inputs(batch=2)
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    per_image = RPNPostProcessor(1000, 1000, 1.0, 0, coder, 7, False, False)
    assert [len(p) for p in per_image(anchors, objectness, deltas, training=True)] == [7, 7]
    per_batch = RPNPostProcessor(1000, 1000, 1.0, 0, coder, 7, True, False)
    merged = per_batch(anchors, objectness, deltas, training=True)
    assert sum(len(p) for p in merged) == 7
    best = torch.cat([p.get_field("objectness") for p in merged]).min()
    every = torch.cat([p.get_field("objectness") for p in per_image(anchors, objectness, deltas)])
    assert int((every > best).sum()) <= 6  # the kept ones are the batch's best
    # the per-batch rule applies to training only (as in maskrcnn-benchmark)
    assert [len(p) for p in per_batch(anchors, objectness, deltas, training=False)] == [7, 7]


def test_gt_boxes_are_appended_only_in_training():
    anchors, objectness, deltas = _rpn_inputs(batch=1)
    gt = BoxList(torch.tensor([[3.0, 4.0, 30.0, 40.0]]), (64, 64))
    selector = RPNPostProcessor(1000, 5, 0.7, 0, BoxCoder((1.0,) * 4), 5, False, add_gt=True)
    (train,) = selector(anchors, objectness, deltas, [gt], training=True)
    (test,) = selector(anchors, objectness, deltas, [gt], training=False)
    assert len(train) == len(test) + 1
    assert torch.equal(train.bbox[-1], gt.bbox[0]) and train.get_field("objectness")[-1] == 1


def _rpn_and_features(cfg):
    rpn = build_rpn(cfg, 16)
    images = ImageList(torch.zeros(2, 3, 64, 64), [(64, 64), (64, 64)])
    features = [torch.randn(2, 16, 64 // s, 64 // s) for s in (4, 8, 16, 32, 64)]
    return rpn, images, features


def test_rpn_losses_are_finite_and_box_loss_is_zero_without_gt():
    rpn, images, features = _rpn_and_features(_tiny_cfg())
    gt = BoxList(torch.tensor([[5.0, 5.0, 40.0, 50.0]]), (64, 64))
    empty = BoxList(torch.zeros(0, 4), (64, 64))
    proposals, losses = rpn(images, features, [gt, gt], training=True)
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    _, empty_losses = rpn(images, features, [empty, empty], training=True)
    assert empty_losses["loss_rpn_box_reg"].item() == 0.0
    assert torch.isfinite(empty_losses["loss_objectness"])
    _, test_losses = rpn(images, features, None, training=False)
    assert test_losses == {}


def test_objectness_loss_is_the_mean_bce_of_the_sampled_anchors():
    cfg = _tiny_cfg()
    rpn, images, features = _rpn_and_features(cfg)
    for layer in (rpn.head.cls_logits, rpn.head.bbox_pred):  # all logits 0, no deltas
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    empty = BoxList(torch.zeros(0, 4), (64, 64))
    _, losses = rpn(images, features, [empty, empty], training=True)
    # every sampled anchor is a negative with logit 0: BCE = log 2 each
    torch.testing.assert_close(losses["loss_objectness"], torch.tensor(math.log(2.0)))


def test_rpn_uses_the_train_or_test_numbers_by_the_training_flag():
    cfg = _tiny_cfg()
    cfg.MODEL.RPN.FPN_POST_NMS_TOP_N_TRAIN = 9
    cfg.MODEL.RPN.FPN_POST_NMS_TOP_N_TEST = 4
    rpn, images, features = _rpn_and_features(cfg)
    gt = BoxList(torch.tensor([[5.0, 5.0, 40.0, 50.0]]), (64, 64))
    rpn.eval()
    assert [len(p) for p in rpn(images, features, [gt, gt], training=True)[0]] == [9, 9]
    rpn.train()
    assert [len(p) for p in rpn(images, features, training=False)[0]] == [4, 4]
