"""The SGG evaluator: predictions of a whole split in, every metric (and the log block) out."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from maskrcnn_benchmark.structures.bounding_box import BoxList

from .detection_map import DetectionInput, detection_map
from .image_records import ImageRecord, evaluate_images
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
    num_workers: int = 0  # > 1: evaluate images in a forked process pool (large splits only)
    detection_map: bool = True


@dataclass
class SGGEvalOutput:
    """Metrics (JSON-ready), the printed block, and one compact record per dataset index."""

    metrics: dict[str, Any]
    text: str
    records: list[ImageRecord] = field(repr=False)


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

    def _warn_about_inputs(self, records: list[ImageRecord], evaluated: list[int]) -> None:
        no_pairs = sum(records[i].num_pairs == 0 for i in evaluated)
        if no_pairs:
            logger.warning(
                "%d images with GT relations have no predicted pairs; they count with recall 0 "
                "(SGB would skip them)", no_pairs,
            )
        if self.settings.mode is SGGMode.SGCLS:
            mismatched = sum(len(records[i].gt.labels) != len(records[i].labels) for i in evaluated)
            if mismatched:
                logger.warning(
                    "Num of GT boxes is not matching with num of pred boxes in SGCLS "
                    "(%d images)", mismatched,
                )

    def _relation_table(self, records: list[ImageRecord], evaluated: list[int]) -> RelationTable:
        gts = [records[i].gt for i in evaluated]
        matches = [records[i].matches for i in evaluated]
        # (subject class, object class, predicate) of every GT row, for the triplet groups
        triplets = _cat(
            [np.column_stack((gt.labels[gt.relations[:, 0]], gt.labels[gt.relations[:, 1]],
                              gt.relations[:, 2])) for gt in gts], columns=3,
        )
        return RelationTable(
            num_images=len(evaluated),
            image_index=np.repeat(np.arange(len(evaluated)), [len(gt.relations) for gt in gts]),
            predicates=triplets[:, 2],
            first_hit=_cat([m.first_hit for m in matches]),
            first_hit_nogc=_cat([m.first_hit_nogc for m in matches]),
            first_hit_gt_pairs=(
                _cat([m.first_hit_gt_pairs for m in matches])
                if self.settings.mode.uses_gt_boxes else None
            ),
            group_masks=group_membership(self.groups, triplets, self.train_count),
        )

    def _detection(self, records: list[ImageRecord], class_names: Sequence[str]) -> dict:
        predcls = self.settings.mode is SGGMode.PREDCLS  # SGB: GT labels with score 1
        images = [
            DetectionInput(r.gt.boxes, r.gt.labels, r.boxes, r.detection_labels,
                           np.ones(len(r.boxes)) if predcls else r.scores)
            for r in records
        ]
        result = detection_map(images, class_names)
        if result.summary:
            logger.info("COCO detection evaluation:\n%s", result.summary)
        return {"mAP@0.5": result.ap50, "mAP@[.5:.95]": result.ap, "coco_stats": result.coco_stats}

    def evaluate(
        self, dataset: Any, predictions: Sequence[BoxList], progress: bool = False
    ) -> SGGEvalOutput:
        """All metrics of ``predictions`` (one BoxList per dataset index, network-input frame)."""
        if len(predictions) != len(dataset):
            raise ValueError(
                f"{len(predictions)} predictions for a dataset of {len(dataset)} images; "
                "predictions must be one BoxList per dataset index, in index order"
            )
        s = self.settings
        records = list(tqdm(
            evaluate_images(dataset, predictions, s.mode, s.iou_threshold, max(s.recall_ks),
                            s.num_predicates, s.num_workers),
            total=len(predictions), unit="img", desc="SGG evaluation", disable=not progress,
        ))
        evaluated = [i for i, r in enumerate(records) if r.matches is not None]
        self._warn_about_inputs(records, evaluated)
        metrics: dict[str, Any] = {
            "mode": s.mode.value,
            "recall_ks": list(s.recall_ks),
            "iou_threshold": s.iou_threshold,
            "num_images": len(records),
            "num_images_with_relations": len(evaluated),
        }
        table = self._relation_table(records, evaluated)
        metrics.update(compute_relation_metrics(table, s.recall_ks, s.num_predicates, self.groups))
        metrics["per_predicate"]["names"] = list(dataset.ind_to_predicates[1:])
        if s.detection_map:
            metrics["detection"] = self._detection(records, dataset.ind_to_classes)
        text = format_results(metrics, dataset.ind_to_predicates[1:])
        return SGGEvalOutput(metrics, text, records)
