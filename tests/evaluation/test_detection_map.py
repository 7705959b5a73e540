"""Detection mAP on the faux-COCO conversion (+1 pixel convention), values worked out by hand."""

import numpy as np
import pytest
import torch
from eval_fakes import FakeDataset, gt_image, prediction, rel_score_rows

from maskrcnn_benchmark.evaluation import (
    DetectionInput,
    SGGEvalSettings,
    SGGEvaluator,
    SGGMode,
    detection_map,
)

CLASSES = ["__background__", "a", "b", "c"]


def image(boxes, labels, scores):
    return DetectionInput(
        gt_boxes=np.array([[0, 0, 9, 9], [50, 50, 59, 59]], dtype=np.float32),
        gt_labels=np.array([1, 1]),
        boxes=np.asarray(boxes, dtype=np.float32),
        labels=np.asarray(labels),
        scores=np.asarray(scores, dtype=np.float32),
    )


def test_ap_at_half_iou_uses_the_plus_one_convention(capsys):
    # Detection 1 (score .9) has IoU 10*5/(10*10) = 0.5 with GT 1 only with w = x2 - x1 + 1:
    # a TP at IoU .5 and a FP above. Detection 2 (.8) is a FP. Precision is 1 up to recall .5,
    # so COCO's 101-point AP@.5 = 51/101, and AP at .55...95 is 0: AP@[.5:.95] = 51/101/10.
    result = detection_map([image([[0, 0, 9, 4], [80, 80, 89, 89]], [1, 1], [0.9, 0.8])], CLASSES)
    assert result.ap50 == pytest.approx(51 / 101)
    assert result.ap == pytest.approx(51 / 101 / 10)
    assert "Average Precision" in result.summary
    assert capsys.readouterr().out == ""  # pycocotools' table goes to the log, not stdout


def test_perfect_detections_and_wrong_classes():
    perfect = detection_map([image([[0, 0, 9, 9], [50, 50, 59, 59]], [1, 1], [0.9, 0.8])],
                            CLASSES)
    assert perfect.ap50 == pytest.approx(1.0) and perfect.ap == pytest.approx(1.0)
    wrong = detection_map([image([[0, 0, 9, 9], [50, 50, 59, 59]], [2, 2], [0.9, 0.8])], CLASSES)
    assert wrong.ap50 == 0.0


def test_no_detections_is_reported_as_undefined():
    result = detection_map([image(np.zeros((0, 4)), [], [])], CLASSES)
    assert (result.ap50, result.ap, result.coco_stats) == (None, None, [])


def test_predcls_detection_uses_gt_labels_with_score_one():
    # PredCls predictions carry the GT labels in `labels`; their pred_labels are ignored.
    gt = gt_image([[0, 0, 9, 9], [50, 50, 59, 59]], [1, 2], [[0, 1, 1]])
    pred = prediction([[0, 0, 9, 9], [50, 50, 59, 59]], [3, 3], [0.1, 0.1], [[0, 1]],
                      rel_score_rows([{1: 0.9}]))
    pred.add_field("labels", torch.tensor([1, 2]))
    dataset = FakeDataset([gt])

    def evaluate(mode):
        settings = SGGEvalSettings(mode, (1,), 0.5, num_predicates=6)
        return SGGEvaluator(settings).evaluate(dataset, [pred]).metrics["detection"]

    assert evaluate(SGGMode.PREDCLS)["mAP@0.5"] == pytest.approx(1.0)
    assert evaluate(SGGMode.SGCLS)["mAP@0.5"] == 0.0  # predicted labels (class 3) are wrong
