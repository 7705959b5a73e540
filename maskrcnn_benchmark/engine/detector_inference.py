"""Detector evaluation over a split: COCO-style mAP and mAP@0.5 of the detections (SGB's mAp).

Predictions (``pred_labels``, ``pred_scores``; network-input frame) are resized to each image's
original size and compared with ``dataset.get_groundtruth(i)`` by ``evaluation.detection_map``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import torch

from maskrcnn_benchmark.evaluation import (
    DetectionInput,
    DetectionResult,
    detection_map,
    save_predictions,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.utils import comm

from .inference import AUTOCAST_DTYPES, compute_predictions

__all__ = ["evaluate_detections", "detector_inference"]

logger = logging.getLogger(__name__)


def evaluate_detections(dataset: Any, predictions: Sequence[BoxList]) -> DetectionResult:
    """mAP of one BoxList of detections per dataset index against the dataset's GT boxes."""
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for a dataset of {len(dataset)} images")
    images = []
    for index, prediction in enumerate(predictions):
        info = dataset.get_img_info(index)
        prediction = prediction.resize((info["width"], info["height"])).convert("xyxy")
        target = dataset.get_groundtruth(index)
        images.append(DetectionInput(
            gt_boxes=target.convert("xyxy").bbox.numpy(),
            gt_labels=target.get_field("labels").numpy(),
            boxes=prediction.bbox.numpy(),
            labels=prediction.get_field("pred_labels").numpy(),
            scores=prediction.get_field("pred_scores").float().numpy(),
        ))
    return detection_map(images, dataset.ind_to_classes)


def detector_inference(
    cfg: Any, model: torch.nn.Module, data_loader: Any, dataset_name: str,
    output_folder: str | None = None,
) -> DetectionResult:
    """Run the detector over ``data_loader``, evaluate on rank 0; the result reaches every rank.

    With ``output_folder`` the predictions (``predictions.pth``) and the metrics
    (``detection_results.json``) are saved there.
    """
    logger.info("Start detector evaluation on %s (%d images)", dataset_name,
                len(data_loader.dataset))
    predictions = compute_predictions(model, data_loader, sync_gather=False,
                                      autocast_dtype=AUTOCAST_DTYPES[cfg.DTYPE])
    result = None
    if comm.is_main_process():
        result = evaluate_detections(data_loader.dataset, predictions)
        if result.summary:
            logger.info("COCO detection evaluation on %s:\n%s", dataset_name, result.summary)
        logger.info("%s: mAP %s, mAP@0.5 %s", dataset_name, result.ap, result.ap50)
        if output_folder:
            os.makedirs(output_folder, exist_ok=True)
            save_predictions(os.path.join(output_folder, "predictions.pth"), predictions,
                             dataset_name)
            with open(os.path.join(output_folder, "detection_results.json"), "w") as f:
                json.dump({"dataset": dataset_name, "mAP": result.ap, "mAP@0.5": result.ap50,
                           "coco_stats": result.coco_stats}, f, indent=1)
    return comm.broadcast_object(result)
