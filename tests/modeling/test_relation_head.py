"""The relation head inside a small, randomly initialised detector: every predictor and task."""

import itertools
import json
from pathlib import Path

import pytest
import torch

from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from maskrcnn_benchmark.modeling.roi_heads.relation_head import (
    RelationHeadOutput,
    build_roi_relation_head,
    relation_slow_heads,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.feature_extractors import (
    pair_rect_masks,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from tests.modeling.relation_data.synthetic import (
    OBJ_CLASSES,
    REL_CLASSES,
    TASK_FLAGS,
    make_statistics,
    make_target,
    small_cfg,
)

SGB_KEYS = json.loads((Path(__file__).parent / "relation_data" / "sgb_relation_keys.json")
                      .read_text())
PREDICTORS = ["MotifPredictor", "VCTreePredictor", "IMPPredictor", "TransformerPredictor"]
IMAGE_SIZE = (64, 48)  # (W, H)


def detector_cfg(predictor, task, **overrides):
    """A tiny R-18-FPN detector (random weights) with the relation head on."""
    cfg = small_cfg(predictor, task, **overrides)
    model = cfg.MODEL
    model.RELATION_ON = True
    model.BACKBONE.CONV_BODY = "R-18-FPN"
    model.RESNETS.TRANS_FUNC = "BasicBlockWithFixedBatchNorm"
    model.RESNETS.STEM_OUT_CHANNELS = 8
    model.RESNETS.RES2_OUT_CHANNELS = 8
    model.RESNETS.BACKBONE_OUT_CHANNELS = SGB_KEYS["dims"]["fpn_channels"]
    model.RPN.USE_FPN = True
    model.RPN.ANCHOR_SIZES = (16, 32, 64, 128, 256)
    model.RPN.ANCHOR_STRIDE = (4, 8, 16, 32, 64)
    model.RPN.RPN_MID_CHANNEL = 8
    model.RPN.PRE_NMS_TOP_N_TRAIN = model.RPN.PRE_NMS_TOP_N_TEST = 100
    model.RPN.POST_NMS_TOP_N_TRAIN = model.RPN.POST_NMS_TOP_N_TEST = 40
    model.RPN.FPN_POST_NMS_TOP_N_TRAIN = model.RPN.FPN_POST_NMS_TOP_N_TEST = 40
    model.RPN.FPN_POST_NMS_PER_BATCH = False
    model.ROI_RELATION_HEAD.ADD_GTBOX_TO_PROPOSAL_IN_TRAIN = True
    model.ROI_HEADS.USE_FPN = True
    model.ROI_HEADS.SCORE_THRESH = 0.0
    model.ROI_HEADS.DETECTIONS_PER_IMG = 8
    model.ROI_BOX_HEAD.POOLER_RESOLUTION = SGB_KEYS["dims"]["pooler_resolution"]
    model.ROI_BOX_HEAD.POOLER_SCALES = tuple(SGB_KEYS["dims"]["pooler_scales"])
    model.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO = 2
    return cfg


def _images_and_targets(seed=0):
    generator = torch.Generator().manual_seed(seed)
    targets = [make_target(4, [(0, 1, 1), (2, 3, 2), (3, 0, 4)], IMAGE_SIZE, generator),
               make_target(1, [], IMAGE_SIZE, generator),
               make_target(3, [], IMAGE_SIZE, generator)]
    images = [torch.randn(3, IMAGE_SIZE[1], IMAGE_SIZE[0], generator=generator) for _ in targets]
    return images, targets


def _detector_state(model):
    parts = ("backbone.", "rpn.", "roi_heads.box.")
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith(parts)}


@pytest.mark.parametrize("name,task", list(itertools.product(PREDICTORS, TASK_FLAGS)))
def test_train_step_and_prediction_with_a_frozen_detector(name, task):
    torch.manual_seed(0)
    model = build_detection_model(detector_cfg(name, task), make_statistics())
    images, targets = _images_and_targets()
    before = _detector_state(model)
    relation_before = {k: v.clone() for k, v in model.roi_heads.relation.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)

    model.train()
    losses = model(images, targets)
    assert {"loss_rel", "loss_refine_obj"} <= set(losses)
    assert all(k.startswith("loss_") and v.dim() == 0 and torch.isfinite(v)
               for k, v in losses.items())
    sum(losses.values()).backward()
    for part in (model.backbone, model.rpn, model.roi_heads.box):
        assert all(not p.requires_grad and p.grad is None for p in part.parameters())
    optimizer.step()
    after = _detector_state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN stats included
    changed = [k for k, v in model.roi_heads.relation.state_dict().items()
               if not torch.equal(v, relation_before[k])]
    assert any(k.startswith("predictor.") for k in changed)
    assert any(k.startswith("box_feature_extractor.") for k in changed)

    model.eval()
    with torch.no_grad():
        results = model(images, targets)
    assert len(results) == len(images)
    for result, target in zip(results, targets):
        num = len(result)
        if task != "sgdet":
            assert torch.equal(result.bbox, target.bbox)
        pairs = result.get_field("rel_pair_idxs")
        assert pairs.shape[1] == 2 and ((pairs >= 0) & (pairs < num)).all()
        if task != "sgdet":  # every ordered pair, or the (0, 0) placeholder for one box
            assert len(pairs) == (num * (num - 1) if num > 1 else 1)
        assert result.get_field("pred_labels").shape == (num,)
        assert result.get_field("pred_scores").shape == (num,)
        assert result.get_field("pred_rel_scores").shape == (len(pairs), len(REL_CLASSES))
        assert result.get_field("pred_rel_labels").shape == (len(pairs),)
        assert (result.get_field("pred_rel_labels") >= 1).all()
        if task == "predcls":
            assert torch.equal(result.get_field("pred_labels"), target.get_field("labels"))
            assert torch.allclose(result.get_field("pred_scores"), torch.ones(num))


def test_single_image_with_one_object_trains():
    torch.manual_seed(0)
    model = build_detection_model(detector_cfg("VCTreePredictor", "sgcls"), make_statistics())
    generator = torch.Generator().manual_seed(1)
    target = make_target(1, [], IMAGE_SIZE, generator)
    losses = model.train()([torch.randn(3, IMAGE_SIZE[1], IMAGE_SIZE[0])], [target])
    assert losses["loss_rel"].item() == 0.0 and torch.isfinite(losses["loss_refine_obj"])
    sum(losses.values()).backward()


def _head(name="MotifPredictor", task="sgdet", **overrides):
    cfg = detector_cfg(name, task, **overrides)
    return build_roi_relation_head(cfg, SGB_KEYS["dims"]["fpn_channels"], make_statistics())


def _features(generator=None):
    channels = SGB_KEYS["dims"]["fpn_channels"]
    return [torch.randn(2, channels, IMAGE_SIZE[1] // s, IMAGE_SIZE[0] // s, generator=generator)
            for s in (4, 8, 16, 32, 64)]


def test_feature_extractor_keys_match_sgb_and_the_load_mapping():
    head = _head()
    for attr, expected in SGB_KEYS["feature_extractors"].items():
        ours = {k: list(v.shape) for k, v in getattr(head, attr).state_dict().items()}
        assert ours == expected
    box = {k: v.shape for k, v in head.box_feature_extractor.state_dict().items()}
    union = {k[len("feature_extractor."):]: v.shape
             for k, v in head.union_feature_extractor.state_dict().items()
             if k.startswith("feature_extractor.fc")}
    assert union == box  # both start from the detector's fc6/fc7 via load_mapping


def test_rect_masks_hand_example():
    box = BoxList(torch.tensor([[0.0, 0.0, 31.0, 15.0], [32.0, 16.0, 63.0, 47.0]]), (64, 48))
    masks = pair_rect_masks(box, torch.tensor([[0, 1]]), rect_size=11)
    # Scale 11/64 in x and 11/48 in y: box 0 -> x 0..ceil(5.33)=6, y 0..ceil(3.44)=4.
    expected_subject = torch.zeros(11, 11)
    expected_subject[0:5, 0:7] = 1
    assert torch.equal(masks[0, 0], expected_subject)
    expected_object = torch.zeros(11, 11)
    expected_object[3:11, 5:11] = 1  # x floor(5.5)=5..ceil(10.83)=11, y floor(3.67)=3..11
    assert torch.equal(masks[0, 1], expected_object)


def test_union_features_shapes_and_no_pair():
    head = _head().eval()
    proposals = [BoxList(torch.tensor([[0.0, 0, 20, 20], [10, 10, 40, 40]]), IMAGE_SIZE),
                 BoxList(torch.tensor([[5.0, 5, 30, 30]]), IMAGE_SIZE)]
    pairs = [torch.tensor([[0, 1], [1, 0]]), torch.zeros(0, 2, dtype=torch.long)]
    out = head.union_feature_extractor(_features(), proposals, pairs)
    assert out.shape == (2, head.union_feature_extractor.out_channels)
    none = head.union_feature_extractor(_features(), proposals, [pairs[1], pairs[1]])
    assert none.shape == (0, head.union_feature_extractor.out_channels)


def test_sgdet_training_with_energy_returns_gt_box_features():
    head = _head("MotifPredictor", "sgdet", **{"MODEL.ENERGY_ON": True}).train()
    generator = torch.Generator().manual_seed(4)
    targets = [make_target(3, [(0, 1, 2)], IMAGE_SIZE, generator),
               make_target(2, [], IMAGE_SIZE, generator)]
    proposals = []
    for target in targets:
        proposal = BoxList(target.bbox + 1.0, IMAGE_SIZE)
        proposal.add_field("labels", target.get_field("labels"))
        proposal.add_field("predict_logits", torch.randn(len(target), len(OBJ_CLASSES)))
        proposal.add_field("boxes_per_cls", proposal.bbox[:, None].repeat(1, len(OBJ_CLASSES), 1))
        proposals.append(proposal)
    output, losses = head(_features(generator), proposals, targets)
    assert isinstance(output, RelationHeadOutput)
    assert output.target_roi_features.shape == (5, head.box_feature_extractor.out_channels)
    assert output.roi_features.shape == (5, head.box_feature_extractor.out_channels)
    assert [len(x) for x in output.relation_logits] == [len(p) for p in output.rel_pair_idxs]
    assert [tuple(x.shape) for x in output.refine_logits] == [(3, 7), (2, 7)]
    assert [len(x) for x in output.rel_labels] == [len(p) for p in output.rel_pair_idxs]
    assert set(losses) == {"loss_rel", "loss_refine_obj"}
    assert _head("MotifPredictor", "sgcls", **{"MODEL.ENERGY_ON": True}).need_target_features \
        is False


def test_imp_slow_heads_name_the_relation_feature_extractors():
    model = build_detection_model(detector_cfg("IMPPredictor", "predcls"), make_statistics())
    slow = relation_slow_heads(model)
    assert slow == ["roi_heads.relation.box_feature_extractor",
                    "roi_heads.relation.union_feature_extractor.feature_extractor"]
    names = [n for n, _ in model.named_parameters()]
    assert any(n.startswith(slow[0]) for n in names) and any(n.startswith(slow[1]) for n in names)
    other = build_detection_model(detector_cfg("MotifPredictor", "predcls"), make_statistics())
    assert relation_slow_heads(other) == []


def test_class_count_mismatch_is_one_clear_error():
    cfg = detector_cfg("MotifPredictor", "predcls")
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 9
    with pytest.raises(ValueError, match="NUM_CLASSES=9"):
        build_roi_relation_head(cfg, 8, make_statistics())


@pytest.mark.parametrize("name", PREDICTORS)
def test_sgdet_image_without_detections(name):
    head = _head(name, "sgdet")
    generator = torch.Generator().manual_seed(0)
    targets = [make_target(3, [(0, 1, 2)], IMAGE_SIZE, generator),
               make_target(2, [], IMAGE_SIZE, generator)]
    proposals = []
    for target, num in zip(targets, [3, 0]):
        proposal = BoxList(target.bbox[:num] + 1.0, IMAGE_SIZE)
        proposal.add_field("labels", target.get_field("labels")[:num])
        proposal.add_field("predict_logits", torch.randn(num, len(OBJ_CLASSES)))
        proposal.add_field("boxes_per_cls", proposal.bbox[:, None].repeat(1, len(OBJ_CLASSES), 1))
        proposals.append(proposal)
    output, losses = head.train()(_features(generator), proposals, targets)
    assert output.rel_pair_idxs[1].shape == (0, 2)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    with torch.no_grad():
        results = head.eval().post_process(head(_features(generator), proposals)[0])
    assert len(results[1]) == 0 and results[1].get_field("rel_pair_idxs").shape == (0, 2)
    assert results[1].get_field("pred_rel_scores").shape == (0, len(REL_CLASSES))
    assert len(results[0].get_field("rel_pair_idxs")) > 0
