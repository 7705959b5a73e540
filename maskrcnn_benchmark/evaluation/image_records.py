"""Per-image evaluation work (load GT, resize the prediction, match) serially or in a pool.

Each image becomes a compact ``ImageRecord``: the GT, the predicted boxes, the top relations
and the matches, a few KB instead of the [P, C] score matrix. With ``num_workers > 1`` the
images are processed by forked workers that inherit the dataset and predictions (nothing
large is pickled) and, like DataLoader workers, run torch single-threaded so that a fork of a
process whose OpenMP pool is alive cannot deadlock.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from maskrcnn_benchmark.structures.bounding_box import BoxList

from .image_matching import (
    NOGC_TOP,
    ImageGroundTruth,
    ImageMatches,
    ImagePrediction,
    match_image,
)
from .modes import SGGMode

__all__ = ["ImageRecord", "evaluate_images"]

# Starting and closing the pool took ~0.7 s in tools/benchmark_eval.py, the serial time of
# ~700 SGDet-sized images: below this many images per worker the pool does not pay off.
MIN_IMAGES_PER_WORKER = 1000


@dataclass
class ImageRecord:
    """What the dataset-level metrics, mAP and visualisation need from one image."""

    gt: ImageGroundTruth
    boxes: np.ndarray  # [N, 4] predicted boxes, original pixels
    labels: np.ndarray  # [N] predicted labels
    scores: np.ndarray  # [N] predicted object scores
    detection_labels: np.ndarray  # labels for mAP (PredCls: the GT labels it carries)
    num_pairs: int
    top_pairs: np.ndarray  # [T, 2] the first NOGC_TOP ranked pairs
    top_predicates: np.ndarray  # [T] their argmax predicate (1..)
    top_scores: np.ndarray  # [T] that predicate's score
    matches: ImageMatches | None  # None when the image has no GT relation


def _record(
    dataset: Any, prediction: BoxList, index: int, mode: SGGMode, iou_threshold: float,
    max_k: int, num_predicates: int,
) -> ImageRecord:
    info = dataset.get_img_info(index)
    gt = ImageGroundTruth.from_boxlist(dataset.get_groundtruth(index, evaluation=True))
    pred = ImagePrediction.from_boxlist(prediction, (info["width"], info["height"]))
    if pred.rel_scores.ndim != 2 or pred.rel_scores.shape[1] != num_predicates:
        raise ValueError(
            f"image {index}: pred_rel_scores has shape {tuple(pred.rel_scores.shape)} but "
            f"MODEL.ROI_RELATION_HEAD.NUM_CLASSES is {num_predicates}"
        )
    matches = None
    if len(gt.relations):
        try:
            matches = match_image(gt, pred, mode, iou_threshold, max_k)
        except ValueError as err:
            raise ValueError(f"image {index}: {err}") from None
    detection_labels = pred.labels
    if mode is SGGMode.PREDCLS and prediction.has_field("labels"):
        detection_labels = prediction.get_field("labels").cpu().long().numpy()
    head = pred.rel_scores[:NOGC_TOP, 1:]
    return ImageRecord(
        gt=gt,
        boxes=pred.boxes,
        labels=pred.labels,
        scores=np.asarray(pred.scores),
        detection_labels=detection_labels,
        num_pairs=len(pred.rel_pairs),
        top_pairs=np.ascontiguousarray(pred.rel_pairs[:NOGC_TOP]),
        top_predicates=head.argmax(axis=1) + 1 if len(head) else np.zeros(0, np.int64),
        top_scores=head.max(axis=1) if len(head) else np.zeros(0, np.float32),
        matches=matches,
    )


# Forked workers read their inputs from here (inherited at fork, never pickled).
_WORKER_INPUTS: tuple | None = None


def _init_worker() -> None:
    torch.set_num_threads(1)


def _record_by_index(index: int) -> ImageRecord:
    dataset, predictions, args = _WORKER_INPUTS
    return _record(dataset, predictions[index], index, *args)


def evaluate_images(
    dataset: Any,
    predictions: Sequence[BoxList],
    mode: SGGMode,
    iou_threshold: float,
    max_k: int,
    num_predicates: int,
    num_workers: int = 0,
) -> Iterator[ImageRecord]:
    """One ``ImageRecord`` per dataset index, in index order."""
    args = (mode, iou_threshold, max_k, num_predicates)
    workers = min(num_workers, len(predictions) // MIN_IMAGES_PER_WORKER)
    if workers <= 1:
        for index, prediction in enumerate(predictions):
            yield _record(dataset, prediction, index, *args)
        return
    global _WORKER_INPUTS
    _WORKER_INPUTS = (dataset, predictions, args)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_init_worker) as pool:
            yield from pool.imap(_record_by_index, range(len(predictions)), chunksize=32)
    finally:
        _WORKER_INPUTS = None
