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
from .joint_decoding import joint_decode_prediction
from .modes import SGGMode
from .structure_metrics import ImageStructure, StructureSpec, image_structure

__all__ = ["ImageRecord", "evaluate_images", "graph_nodes"]

# Starting and closing the pool took ~0.7 s in tools/benchmark_eval.py, the serial time of
# ~700 SGDet-sized images: below this many images per worker the pool does not pay off.
MIN_IMAGES_PER_WORKER = 1000
# Joint decoding (TEST.RELATION.JOINT_DECODE) takes ~0.1-0.3 s per synthetic image: a pool pays
# off from a few images per worker.
MIN_IMAGES_PER_WORKER_JOINT = 20


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
    top_predicates: np.ndarray  # [T] their graph-constrained predicate (1..)
    top_scores: np.ndarray  # [T] that predicate's score
    matches: ImageMatches | None  # None when the image has no GT relation
    structure: ImageStructure | None = None  # synthetic benchmark's extras only


def graph_nodes(gt: ImageGroundTruth, pred: ImagePrediction, mode: SGGMode
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Boxes, labels and object scores (None = all 1) of the predicted graph's nodes, as the
    matching uses them: the GT boxes and labels in PredCls, the prediction's otherwise (SGCls:
    the GT boxes it carries, with the predicted labels)."""
    if mode is SGGMode.PREDCLS:
        return gt.boxes, gt.labels, None
    return pred.boxes, pred.labels, pred.scores


def _record(
    dataset: Any, prediction: BoxList, index: int, mode: SGGMode, iou_threshold: float,
    max_k: int, num_predicates: int, structure: StructureSpec | None = None,
) -> ImageRecord:
    info = dataset.get_img_info(index)
    gt = ImageGroundTruth.from_boxlist(dataset.get_groundtruth(index, evaluation=True))
    pred = ImagePrediction.from_boxlist(prediction, (info["width"], info["height"]))
    if pred.rel_scores.ndim != 2 or pred.rel_scores.shape[1] != num_predicates:
        raise ValueError(
            f"image {index}: pred_rel_scores has shape {tuple(pred.rel_scores.shape)} but "
            f"MODEL.ROI_RELATION_HEAD.NUM_CLASSES is {num_predicates}"
        )
    image_structure_record = None
    if structure is not None:
        boxes, labels, obj_scores = graph_nodes(gt, pred, mode)
        if structure.joint_decode:
            try:
                pred = joint_decode_prediction(pred, structure.tables, labels, boxes, obj_scores)
            except ValueError as err:
                raise ValueError(f"image {index}: {err}") from None
        if structure.metrics:
            head = slice(0, max_k)
            triplets = np.column_stack((pred.rel_pairs[head], pred.graph_labels(head)))
            image_structure_record = image_structure(
                structure, dataset.get_structure_annotations(index), gt.relations, labels,
                boxes, triplets, index)
    matches = None
    if len(gt.relations):
        try:
            matches = match_image(gt, pred, mode, iou_threshold, max_k)
        except ValueError as err:
            raise ValueError(f"image {index}: {err}") from None
    detection_labels = pred.labels
    if mode is SGGMode.PREDCLS and prediction.has_field("labels"):
        detection_labels = prediction.get_field("labels").cpu().long().numpy()
    top = slice(0, NOGC_TOP)
    top_predicates = pred.graph_labels(top)
    top_rows = np.arange(len(top_predicates))
    return ImageRecord(
        gt=gt,
        boxes=pred.boxes,
        labels=pred.labels,
        scores=np.asarray(pred.scores),
        detection_labels=detection_labels,
        num_pairs=len(pred.rel_pairs),
        top_pairs=np.ascontiguousarray(pred.rel_pairs[:NOGC_TOP]),
        top_predicates=top_predicates,
        top_scores=pred.rel_scores[top_rows, top_predicates],
        matches=matches,
        structure=image_structure_record,
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
    structure: StructureSpec | None = None,
) -> Iterator[ImageRecord]:
    """One ``ImageRecord`` per dataset index, in index order (``structure``: the synthetic
    benchmark's structure metrics and / or joint decoding)."""
    args = (mode, iou_threshold, max_k, num_predicates, structure)
    per_worker = MIN_IMAGES_PER_WORKER_JOINT if structure is not None and (
        structure.joint_decode) else MIN_IMAGES_PER_WORKER
    workers = min(num_workers, len(predictions) // per_worker)
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
