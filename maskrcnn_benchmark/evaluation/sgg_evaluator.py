"""The SGG evaluator: predictions of a whole split in, every metric (and the log block) out."""

from __future__ import annotations

import logging
import multiprocessing
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from maskrcnn_benchmark.structures.bounding_box import BoxList

from .detection_map import DetectionInput, detection_map
from .image_matching import ImageGroundTruth, ImageMatches, ImagePrediction, match_image
from .modes import SGGMode
from .relation_metrics import RelationTable, compute_relation_metrics
from .report import format_results
from .triplet_groups import TrainCountFn, TripletGroup, group_membership

__all__ = ["SGGEvalSettings", "SGGEvalOutput", "SGGEvaluator", "metric_value"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SGGEvalSettings:
    """Plain evaluation settings (the cfg is read once, in ``build_sgg_evaluator``)."""

    mode: SGGMode
    recall_ks: tuple[int, ...] = (20, 50, 100)
    iou_threshold: float = 0.5
    num_predicates: int = 51  # including background
    num_workers: int = 0  # > 1: match images in a forked process pool
    detection_map: bool = True


@dataclass
class SGGEvalOutput:
    """Metrics (JSON-ready), the printed block, and per-image inputs and matches."""

    metrics: dict[str, Any]
    text: str
    groundtruths: list[ImageGroundTruth] = field(repr=False)
    predictions: list[ImagePrediction] = field(repr=False)
    matches: dict[int, ImageMatches] = field(repr=False)  # dataset index -> matches


def metric_value(metrics: dict[str, Any], name: str) -> float:
    """The value of ``name`` such as "R@100" or "mR@50" (the validation score)."""
    parsed = re.fullmatch(r"([A-Za-z-]+)@(\d+)", name.strip())
    family = parsed.group(1) if parsed else None
    if parsed is None or not isinstance(metrics.get(family), dict):
        raise ValueError(
            f"Unknown metric '{name}' (SOLVER.VAL_METRIC); use <metric>@<K> with metric one of "
            "R, mR, ngR, ng-mR, A, e.g. R@100 or mR@100"
        )
    value = metrics[family].get(parsed.group(2))
    if value is None:
        raise ValueError(
            f"Metric '{name}' is not available: K={parsed.group(2)} must be one of "
            f"TEST.RELATION.RECALL_KS {sorted(int(k) for k in metrics[family])} and at least "
            "one evaluated image must have GT relations"
        )
    return float(value)


def _cat(arrays: list[np.ndarray], columns: int = 0) -> np.ndarray:
    if not arrays:
        return np.zeros((0, columns) if columns else 0, dtype=np.int64)
    return np.concatenate(arrays).astype(np.int64)


# Images matched in a forked pool read the inputs from here (inherited, never pickled).
_POOL_INPUTS: tuple | None = None


def _match_by_index(index: int) -> ImageMatches:
    gts, preds, mode, iou_threshold, max_k = _POOL_INPUTS
    return match_image(gts[index], preds[index], mode, iou_threshold, max_k)


def _iter_matches(
    gts: Sequence[ImageGroundTruth], preds: Sequence[ImagePrediction], indices: list[int],
    settings: SGGEvalSettings,
) -> Iterator[ImageMatches]:
    max_k = max(settings.recall_ks)
    if settings.num_workers <= 1 or len(indices) < 2 * settings.num_workers:
        for i in indices:
            yield match_image(gts[i], preds[i], settings.mode, settings.iou_threshold, max_k)
        return
    global _POOL_INPUTS
    _POOL_INPUTS = (gts, preds, settings.mode, settings.iou_threshold, max_k)
    try:
        with multiprocessing.get_context("fork").Pool(settings.num_workers) as pool:
            yield from pool.imap(_match_by_index, indices, chunksize=64)
    finally:
        _POOL_INPUTS = None


class SGGEvaluator:
    """Evaluates a split's predictions against ``dataset`` (SGB's ``do_vg_evaluation``)."""

    def __init__(
        self,
        settings: SGGEvalSettings,
        groups: Sequence[TripletGroup] = (),
        train_count: TrainCountFn | None = None,
    ) -> None:
        if not settings.recall_ks or min(settings.recall_ks) < 1:
            raise ValueError(f"TEST.RELATION.RECALL_KS must be positive, got {settings.recall_ks}")
        self.settings = settings
        self.groups = list(groups)
        self.train_count = train_count

    def _load(self, dataset: Any, predictions: Sequence[BoxList]):
        if len(predictions) != len(dataset):
            raise ValueError(
                f"{len(predictions)} predictions for a dataset of {len(dataset)} images; "
                "predictions must be one BoxList per dataset index, in index order"
            )
        gts, preds = [], []
        for index, prediction in enumerate(predictions):
            info = dataset.get_img_info(index)
            target = dataset.get_groundtruth(index, evaluation=True)
            gts.append(ImageGroundTruth.from_boxlist(target))
            preds.append(ImagePrediction.from_boxlist(prediction, (info["width"], info["height"])))
            num_rel_columns = preds[-1].rel_scores.shape[1]
            if num_rel_columns != self.settings.num_predicates:
                raise ValueError(
                    f"image {index}: pred_rel_scores has {num_rel_columns} columns but "
                    f"MODEL.ROI_RELATION_HEAD.NUM_CLASSES is {self.settings.num_predicates}"
                )
        return gts, preds

    def _warn_about_inputs(self, gts, preds, evaluated: list[int]) -> None:
        no_pairs = sum(len(preds[i].rel_pairs) == 0 for i in evaluated)
        if no_pairs:
            logger.warning(
                "%d images with GT relations have no predicted pairs; they count with recall 0 "
                "(SGB would skip them)", no_pairs,
            )
        if self.settings.mode is SGGMode.SGCLS:
            mismatched = sum(len(gts[i].labels) != len(preds[i].labels) for i in evaluated)
            if mismatched:
                logger.warning(
                    "Num of GT boxes is not matching with num of pred boxes in SGCLS "
                    "(%d images)", mismatched,
                )

    def _relation_table(self, gts, matches: list[ImageMatches], evaluated: list[int]):
        relations = [gts[i].relations for i in evaluated]
        # (subject class, object class, predicate) of every GT row, for the triplet groups
        triplets = _cat(
            [np.column_stack((gts[i].labels[r[:, 0]], gts[i].labels[r[:, 1]], r[:, 2]))
             for i, r in zip(evaluated, relations)], columns=3,
        )
        return RelationTable(
            num_images=len(evaluated),
            image_index=np.repeat(np.arange(len(evaluated)), [len(r) for r in relations]),
            predicates=triplets[:, 2],
            first_hit=_cat([m.first_hit for m in matches]),
            first_hit_nogc=_cat([m.first_hit_nogc for m in matches]),
            first_hit_gt_pairs=(
                _cat([m.first_hit_gt_pairs for m in matches])
                if self.settings.mode.uses_gt_boxes else None
            ),
            group_masks=group_membership(self.groups, triplets, self.train_count),
        )

    def _detection(self, gts, preds, predictions, class_names) -> dict[str, Any]:
        images = []
        for gt, pred, boxlist in zip(gts, preds, predictions):
            labels, scores = pred.labels, pred.scores
            if self.settings.mode is SGGMode.PREDCLS:  # SGB: GT labels, score 1
                if boxlist.has_field("labels"):
                    labels = boxlist.get_field("labels").cpu().long().numpy()
                scores = np.ones(len(labels))
            images.append(DetectionInput(gt.boxes, gt.labels, pred.boxes, labels, scores))
        result = detection_map(images, class_names)
        if result.summary:
            logger.info("COCO detection evaluation:\n%s", result.summary)
        return {"mAP@0.5": result.ap50, "mAP@[.5:.95]": result.ap, "coco_stats": result.coco_stats}

    def evaluate(
        self, dataset: Any, predictions: Sequence[BoxList], progress: bool = False
    ) -> SGGEvalOutput:
        """All metrics of ``predictions`` (one BoxList per dataset index, network-input frame)."""
        gts, preds = self._load(dataset, predictions)
        evaluated = [i for i, gt in enumerate(gts) if len(gt.relations) > 0]
        self._warn_about_inputs(gts, preds, evaluated)
        matches = []
        bar = tqdm(total=len(evaluated), unit="img", desc="SGG evaluation", disable=not progress)
        for image_matches in _iter_matches(gts, preds, evaluated, self.settings):
            matches.append(image_matches)
            bar.update(1)
        bar.close()
        table = self._relation_table(gts, matches, evaluated)
        s = self.settings
        metrics: dict[str, Any] = {
            "mode": s.mode.value,
            "recall_ks": list(s.recall_ks),
            "iou_threshold": s.iou_threshold,
            "num_images": len(gts),
            "num_images_with_relations": len(evaluated),
        }
        metrics.update(compute_relation_metrics(table, s.recall_ks, s.num_predicates, self.groups))
        metrics["per_predicate"]["names"] = list(dataset.ind_to_predicates[1:])
        if s.detection_map:
            metrics["detection"] = self._detection(gts, preds, predictions, dataset.ind_to_classes)
        text = format_results(metrics, dataset.ind_to_predicates[1:])
        return SGGEvalOutput(metrics, text, gts, preds, dict(zip(evaluated, matches)))
