"""Object detection mAP through pycocotools on SGB's faux-COCO conversion of the GT.

GT and predicted boxes become COCO ``[x, y, w, h]`` with the +1 pixel convention
(w = x2 - x1 + 1; GT area = w * h), image ids are dataset indices and categories are the
non-background classes. Annotation ids start at 1: SGB starts at 0, which pycocotools
reads as "no match", so SGB's very first GT box can never be detected (a bug; its effect on
VG is one box in ~300k). SGB reports AP@0.5 (``stats[1]``, its "mAp"); AP@[.5:.95]
(``stats[0]``) is reported too. pycocotools prints to stdout: the text goes to the log.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from maskrcnn_benchmark.structures.bounding_box import TO_REMOVE

__all__ = ["DetectionInput", "DetectionResult", "detection_map"]

logger = logging.getLogger(__name__)


@dataclass
class DetectionInput:
    """One image: GT boxes [G, 4] / labels [G]; predicted boxes [N, 4] / labels / scores."""

    gt_boxes: np.ndarray
    gt_labels: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray


@dataclass
class DetectionResult:
    """AP@0.5 (SGB's mAp), AP@[.5:.95], the 12 COCO stats and pycocotools' printed table."""

    ap50: float | None
    ap: float | None
    coco_stats: list[float]
    summary: str


def _xywh(boxes: np.ndarray, dtype: type) -> np.ndarray:
    # SGB converts GT boxes in Python floats and predicted boxes in float32 (BoxList.convert).
    boxes = np.asarray(boxes, dtype=dtype).reshape(-1, 4)
    return np.column_stack((boxes[:, :2], boxes[:, 2:] - boxes[:, :2] + TO_REMOVE))


def _faux_coco(images: Sequence[DetectionInput], class_names: Sequence[str]) -> COCO:
    annotations = []
    for image_id, image in enumerate(images):
        for box, label in zip(_xywh(image.gt_boxes, np.float64).tolist(), image.gt_labels.tolist()):
            annotations.append(
                {
                    "area": box[2] * box[3],
                    "bbox": box,
                    "category_id": int(label),
                    "id": len(annotations) + 1,  # COCOeval treats id 0 as "unmatched"
                    "image_id": image_id,
                    "iscrowd": 0,
                }
            )
    coco = COCO()
    coco.dataset = {
        "info": {"description": "SGG-EBM faux-COCO GT for detection mAP"},
        "images": [{"id": i} for i in range(len(images))],
        "categories": [
            {"supercategory": "object", "id": i, "name": name}
            for i, name in enumerate(class_names)
            if i > 0
        ],
        "annotations": annotations,
    }
    coco.createIndex()
    return coco


def detection_map(images: Sequence[DetectionInput], class_names: Sequence[str]) -> DetectionResult:
    """COCO bbox evaluation of all images; ``class_names[0]`` is the background."""
    rows = [
        np.column_stack(
            (
                np.full(len(image.labels), image_id, dtype=np.float64),
                _xywh(image.boxes, np.float32).astype(np.float64),
                np.asarray(image.scores, dtype=np.float64),
                np.asarray(image.labels, dtype=np.float64),
            )
        )
        for image_id, image in enumerate(images)
    ]
    detections = np.concatenate(rows, axis=0) if rows else np.zeros((0, 7))
    num_gt = sum(len(image.gt_labels) for image in images)
    if len(detections) == 0 or num_gt == 0:
        logger.warning(
            "Detection mAP is undefined: %d predicted and %d GT boxes", len(detections), num_gt
        )
        return DetectionResult(None, None, [], "")
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        ground_truth = _faux_coco(images, class_names)
        results = ground_truth.loadRes(detections)
        coco_eval = COCOeval(ground_truth, results, "bbox")
        coco_eval.params.imgIds = list(range(len(images)))
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    stats = [float(s) for s in coco_eval.stats]
    return DetectionResult(stats[1], stats[0], stats, captured.getvalue())
