"""Relation mode: SGB's box-head behaviour per task, the forward contract, the frozen detector.

A stand-in relation head (one linear layer) replaces the real one so the detector's side of
the contract is tested on its own.
"""

from pathlib import Path

import pytest
import torch
from torch import nn

import maskrcnn_benchmark.modeling.roi_heads.relation_head as relation_head_package
from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.detector import build_detection_model, freeze_detector
from maskrcnn_benchmark.structures.bounding_box import BoxList

DATA = Path(__file__).parent / "data"


class StandInRelationHead(nn.Module):
    """Records what the detector hands over; its loss trains one linear layer."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, 1)
        self.received: list = []

    def forward(self, features, detections, targets):
        self.received.append((features, detections, targets))
        score = self.fc(features[0].mean(dim=(2, 3)))
        output = {"detections": detections, "score": score}
        return output, ({"loss_relation": (score - 1).pow(2).mean()} if self.training else {})

    def post_process(self, output):
        return [d.copy_with_fields([]) for d in output["detections"]]


@pytest.fixture
def stand_in_relation_head(monkeypatch):
    monkeypatch.setattr(relation_head_package, "build_roi_relation_head",
                        lambda cfg, in_channels, statistics: StandInRelationHead(in_channels),
                        raising=False)


def _cfg(use_gt_box: bool, use_gt_label: bool):
    cfg = get_cfg()
    cfg.merge_from_file(str(DATA / "tiny_detector.yaml"))
    cfg.MODEL.RELATION_ON = True
    cfg.MODEL.ROI_RELATION_HEAD.USE_GT_BOX = use_gt_box
    cfg.MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL = use_gt_label
    cfg.MODEL.ROI_HEADS.SCORE_THRESH = 0.0  # untrained detector: keep detections
    return cfg


def _batch():
    g = torch.Generator().manual_seed(0)
    images = [torch.randn(3, 64, 80, generator=g), torch.randn(3, 64, 80, generator=g)]
    targets = []
    for boxes, labels in (([[5, 6, 40, 50], [30, 10, 70, 60]], [1, 4]), ([[0, 0, 20, 30]], [2])):
        target = BoxList(torch.tensor(boxes, dtype=torch.float32), (80, 64))
        target.add_field("labels", torch.tensor(labels))
        target.add_field("relation", torch.zeros(len(labels), len(labels), dtype=torch.long),
                         is_triplet=True)
        targets.append(target)
    return images, targets


@pytest.mark.usefixtures("stand_in_relation_head")
@pytest.mark.parametrize("training", [True, False])
def test_predcls_hands_over_the_gt_boxes_with_labels(training):
    model = build_detection_model(_cfg(True, True)).train(training)
    rpn_calls = []
    model.rpn.register_forward_hook(lambda *args: rpn_calls.append(1))
    images, targets = _batch()
    model(images, targets)
    assert rpn_calls == []  # GT boxes: no proposals needed
    detections = model.roi_heads.relation.received[-1][1]
    for det, target in zip(detections, targets):
        assert torch.equal(det.bbox, target.bbox) and det.fields() == ["labels"]
        assert torch.equal(det.get_field("labels"), target.get_field("labels"))


@pytest.mark.usefixtures("stand_in_relation_head")
def test_sgcls_adds_the_box_predictor_logits():
    model = build_detection_model(_cfg(True, False)).eval()
    images, targets = _batch()
    model(images, targets)
    detections = model.roi_heads.relation.received[-1][1]
    box_head = model.roi_heads.box
    expected = box_head.predictor(box_head.feature_extractor(
        model.backbone(torch.stack(images)), targets))[0]
    logits = torch.cat([d.get_field("predict_logits") for d in detections])
    assert logits.shape == (3, 5)
    torch.testing.assert_close(logits, expected)
    with pytest.raises(ValueError, match="USE_GT_BOX"):
        model(images)


@pytest.mark.usefixtures("stand_in_relation_head")
@pytest.mark.parametrize("training", [True, False])
def test_sgdet_post_processes_matched_proposals(training):
    model = build_detection_model(_cfg(False, False)).train(training)
    images, targets = _batch()
    model(images, targets)
    for det in model.roi_heads.relation.received[-1][1]:
        assert set(det.fields()) == {"labels", "predict_logits", "boxes_per_cls",
                                     "pred_scores", "pred_labels"}
        assert det.get_field("boxes_per_cls").shape == (len(det), 5, 4)
        assert 0 < len(det) <= 20


@pytest.mark.usefixtures("stand_in_relation_head")
def test_forward_contract_returns_relation_losses_or_post_processed_output():
    model = build_detection_model(_cfg(False, False))
    images, targets = _batch()
    assert set(model.train()(images, targets)) == {"loss_relation"}
    outputs = model.eval()(images)
    assert len(outputs) == 2 and all(isinstance(o, BoxList) and o.fields() == [] for o in outputs)


@pytest.mark.usefixtures("stand_in_relation_head")
def test_sgdet_training_uses_train_proposal_numbers_and_appends_gt_boxes():
    cfg = _cfg(False, False)
    cfg.MODEL.RPN.FPN_POST_NMS_TOP_N_TRAIN = 9
    cfg.MODEL.RPN.FPN_POST_NMS_TOP_N_TEST = 4
    cfg.MODEL.ROI_RELATION_HEAD.ADD_GTBOX_TO_PROPOSAL_IN_TRAIN = True
    model = build_detection_model(cfg)
    counts = []
    model.rpn.register_forward_hook(lambda m, i, out: counts.append([len(p) for p in out[0]]))
    images, targets = _batch()
    model.train()(images, targets)
    model.eval()(images, targets)
    assert counts == [[9 + 2, 9 + 1], [4, 4]]


def _detector_state(model):
    return {k: v.clone() for k, v in model.state_dict().items()
            if not k.startswith("roi_heads.relation")}


@pytest.mark.usefixtures("stand_in_relation_head")
def test_frozen_detector_keeps_weights_and_bn_statistics_through_training():
    model = build_detection_model(_cfg(False, False))
    # A trainable BatchNorm inside the backbone shows whether the frozen parts stay in eval.
    model.backbone.body.stem.bn1 = nn.BatchNorm2d(8)
    freeze_detector(model)
    model.train()
    assert model.training and model.roi_heads.relation.training
    assert not any(part.training for part in model.detector_parts)
    assert not model.backbone.body.stem.bn1.training
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(name.startswith("roi_heads.relation.") for name in trainable)

    before = _detector_state(model)
    relation_before = model.roi_heads.relation.fc.weight.clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    images, targets = _batch()
    for _ in range(3):
        losses = model(images, targets)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    after = _detector_state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(relation_before, model.roi_heads.relation.fc.weight)
    features = model.roi_heads.relation.received[-1][0]
    assert not any(f.requires_grad for f in features)  # the detector ran under no_grad

    # The check can fail: the same BatchNorm in train mode does move its statistics.
    bn = model.backbone.body.stem.bn1.train()
    bn(torch.randn(2, 8, 4, 4))
    assert not torch.equal(before["backbone.body.stem.bn1.running_mean"], bn.running_mean)
