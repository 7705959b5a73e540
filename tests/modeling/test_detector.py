"""GeneralizedRCNN in detector mode: losses, empty images, determinism, a descent step."""

from pathlib import Path

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.structures.bounding_box import BoxList

DATA = Path(__file__).parent / "data"
DETECTOR_LOSSES = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}


def _cfg():
    cfg = get_cfg()
    cfg.merge_from_file(str(DATA / "tiny_detector.yaml"))
    return cfg


def _target(boxes, labels, size=(80, 64)) -> BoxList:
    target = BoxList(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), size)
    target.add_field("labels", torch.tensor(labels, dtype=torch.long))
    return target


def _images():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(3, 64, 80, generator=g), torch.randn(3, 64, 80, generator=g)]


def test_training_returns_the_four_finite_detector_losses():
    model = build_detection_model(_cfg()).train()
    targets = [_target([[5, 6, 40, 50], [30, 10, 70, 60]], [1, 4]), _target([[0, 0, 20, 30]], [2])]
    losses = model(_images(), targets)
    assert set(losses) == DETECTOR_LOSSES
    assert all(torch.isfinite(v) and v.item() > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.body.stem.conv1.weight.grad.abs().sum() > 0
    assert model.roi_heads.box.predictor.bbox_pred.weight.grad.abs().sum() > 0


def test_box_losses_are_zero_for_images_without_objects():
    model = build_detection_model(_cfg()).train()
    losses = model(_images(), [_target([], []), _target([], [])])
    assert losses["loss_rpn_box_reg"].item() == 0.0 and losses["loss_box_reg"].item() == 0.0
    assert torch.isfinite(losses["loss_objectness"]) and torch.isfinite(losses["loss_classifier"])


def test_training_without_targets_is_an_error():
    with pytest.raises(ValueError, match="targets"):
        build_detection_model(_cfg()).train()(_images())


def test_eval_outputs_are_deterministic():
    cfg = _cfg()
    cfg.MODEL.ROI_HEADS.SCORE_THRESH = 0.0
    model = build_detection_model(cfg).eval()
    image = _images()[0]
    with torch.no_grad():
        first, second = model([image]), model([image])
        pair = model([image, image.clone()])
    assert len(first[0]) > 0
    # Batched convolutions may round differently from single-image ones, so a batch is compared
    # with itself: two copies of one image get identical detections.
    for reference, other in ((first[0], second[0]), (pair[0], pair[1])):
        assert torch.equal(reference.bbox, other.bbox)
        assert torch.equal(reference.get_field("pred_scores"), other.get_field("pred_scores"))
        assert torch.equal(reference.get_field("pred_labels"), other.get_field("pred_labels"))
    detections = first[0]
    assert len(detections) <= cfg.MODEL.ROI_HEADS.DETECTIONS_PER_IMG
    assert detections.size == (80, 64) and set(detections.fields()) == {"pred_scores",
                                                                          "pred_labels"}
    assert int(detections.get_field("pred_labels").min()) >= 1


def test_one_sgd_step_lowers_the_loss_of_the_same_batch():
    model = build_detection_model(_cfg()).train()
    image = torch.zeros(3, 64, 80)
    image[:, 8:40, 10:42] = 100.0
    image[:, 20:60, 50:75] = -100.0
    target = _target([[10, 8, 41, 39], [50, 20, 74, 59]], [1, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def total_loss():
        torch.manual_seed(1)  # the same anchor and RoI samples in both passes
        return sum(model([image], [target]).values())

    before = total_loss()
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = total_loss()
    assert after.item() < before.item()


def test_bfloat16_autocast_trains_and_detects_in_float32_outputs():
    cfg = _cfg()
    cfg.MODEL.ROI_HEADS.SCORE_THRESH = 0.0
    model = build_detection_model(cfg)
    targets = [_target([[5, 6, 40, 50]], [1]), _target([[0, 0, 20, 30]], [2])]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = model.train()(_images(), targets)
        with torch.no_grad():
            detections = model.eval()(_images())
    assert set(losses) == DETECTOR_LOSSES and all(torch.isfinite(v) for v in losses.values())
    assert len(detections[0]) > 0
    assert detections[0].bbox.dtype == torch.float32
    assert detections[0].get_field("pred_scores").dtype == torch.float32
