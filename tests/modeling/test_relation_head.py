"""The relation head and its feature extractors on hand-made inputs and a tiny detector."""

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
    unordered_pairs,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictor_catalog import (
    predictor_settings,
    relation_predictor_names,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.utils.checkpoint import RELATION_LOAD_MAPPING, load_model_state
from tests.modeling.relation_data.synthetic import (
    OBJ_CLASSES,
    REL_CLASSES,
    make_statistics,
    make_target,
)
from tests.modeling.relation_data.synthetic import detector_cfg as shared_detector_cfg

SGB_KEYS = json.loads((Path(__file__).parent / "relation_data" / "sgb_relation_keys.json")
                      .read_text())
PREDICTORS = relation_predictor_names()
IMAGE_SIZE = (64, 48)  # (W, H)


def detector_cfg(predictor, task, **overrides):
    dims = SGB_KEYS["dims"]
    return shared_detector_cfg(predictor, task, fpn_channels=dims["fpn_channels"],
                               resolution=dims["pooler_resolution"],
                               **{**predictor_settings(predictor), **overrides})


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


def test_unordered_pairs_hand_example():
    keys, inverse = unordered_pairs(torch.tensor([[0, 1], [2, 0], [1, 0], [0, 2], [1, 2]]))
    assert keys.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert inverse.tolist() == [0, 1, 0, 1, 2]


def test_union_features_pool_each_unordered_pair_once():
    torch.manual_seed(0)
    head = _head().eval()
    extractor = head.union_feature_extractor
    generator = torch.Generator().manual_seed(3)
    proposals = [BoxList(torch.tensor([[0.0, 0, 20, 20], [10, 10, 40, 40], [30, 2, 60, 20]]),
                         IMAGE_SIZE),
                 BoxList(torch.tensor([[5.0, 5, 30, 30], [1, 20, 50, 45]]), IMAGE_SIZE)]
    pairs = [torch.tensor([[0, 1], [1, 0], [2, 0], [1, 2], [0, 2]]), torch.tensor([[1, 0]])]
    features = _features(generator)
    pooled_rows = []
    hook = extractor.feature_extractor.pooler.register_forward_hook(
        lambda module, args, out: pooled_rows.append(out.shape[0]))
    with torch.no_grad():
        out = extractor(features, proposals, pairs)
        # Reference: every ordered pair pooled on its own (SGB's computation).
        rects, visual = [], []
        for image, (proposal, image_pairs) in enumerate(zip(proposals, pairs)):
            for subject, obj in image_pairs.tolist():
                union = BoxList(torch.cat([
                    torch.minimum(proposal.bbox[subject, :2], proposal.bbox[obj, :2]),
                    torch.maximum(proposal.bbox[subject, 2:], proposal.bbox[obj, 2:])])[None],
                    IMAGE_SIZE)
                level_features = [f[image:image + 1] for f in features]
                visual.append(extractor.feature_extractor.pooler(level_features, [union]))
            rects.append(pair_rect_masks(proposal, image_pairs, extractor.rect_size))
        expected = extractor.feature_extractor.forward_without_pool(
            torch.cat(visual) + extractor.rect_conv(torch.cat(rects)))
    hook.remove()
    assert pooled_rows[0] == 4  # 3 unordered pairs in image 0, 1 in image 1 (not 6 boxes)
    assert out.shape == (6, extractor.out_channels)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out[0], out[1])  # (0, 1) and (1, 0) differ by their box masks


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


def test_gt_labels_without_gt_boxes_is_one_clear_error():
    cfg = detector_cfg("MotifPredictor", "sgdet")
    cfg.MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL = True
    with pytest.raises(ValueError, match="USE_GT_OBJECT_LABEL=True needs USE_GT_BOX=True"):
        build_roi_relation_head(cfg, 8, make_statistics())


def test_detector_checkpoint_initialises_the_relation_feature_extractors():
    detector_only = detector_cfg("MotifPredictor", "sgdet")
    detector_only.MODEL.RELATION_ON = False
    torch.manual_seed(1)
    detector_state = build_detection_model(detector_only).state_dict()
    torch.manual_seed(2)
    model = build_detection_model(detector_cfg("MotifPredictor", "sgdet"), make_statistics())
    report = load_model_state(model, detector_state, load_mapping=RELATION_LOAD_MAPPING)
    relation = model.roi_heads.relation
    for layer in ("fc6", "fc7"):
        expected = detector_state[f"roi_heads.box.feature_extractor.{layer}.weight"]
        assert torch.equal(getattr(relation.box_feature_extractor, layer).weight, expected)
        union_mlp = relation.union_feature_extractor.feature_extractor
        assert torch.equal(getattr(union_mlp, layer).weight, expected)
    # Only the relation head's own layers start from scratch.
    assert report.missing and all(k.startswith(("roi_heads.relation.predictor.",
                                                 "roi_heads.relation.union_feature_extractor."))
                                  for k in report.missing)
    assert not any("fc6" in k or "fc7" in k for k in report.missing)
    fresh = build_detection_model(detector_cfg("MotifPredictor", "sgdet"), make_statistics())
    assert not load_model_state(fresh, model.state_dict(), strict=True).missing
