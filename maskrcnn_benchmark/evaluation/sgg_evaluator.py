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
from .structure_metrics import STRUCTURE_FAMILIES, StructureSpec, compute_structure_metrics
from .structure_rules import rule_tables, synthetic_vocabulary_error
from .triplet_groups import TrainCountFn, TripletGroup, group_membership

__all__ = ["SGGEvalSettings", "SGGEvalOutput", "SGGEvaluator", "metric_value",
           "METRIC_FAMILIES"]

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
    joint_decode: bool = False  # re-decode relations under the synthetic benchmark's rules


@dataclass
class SGGEvalOutput:
    """Metrics (JSON-ready), the printed block, and one compact record per dataset index."""

    metrics: dict[str, Any]
    text: str
    records: list[ImageRecord] = field(repr=False)


METRIC_FAMILIES = ("R", "mR", "ngR", "ng-mR", "A", *STRUCTURE_FAMILIES)


def metric_value(metrics: dict[str, Any], name: str) -> float:
    """The value of ``name`` such as "R@100", "mR@50" or "ctx-mR@50" (the validation score)."""
    parsed = re.fullmatch(r"([A-Za-z-]+)@(\d+)", name.strip())
    family = parsed.group(1) if parsed else None
    if parsed is None or family not in METRIC_FAMILIES:
        raise ValueError(
            f"Unknown metric '{name}' (SOLVER.VAL_METRIC); use <metric>@<K> with metric one of "
            f"{', '.join(METRIC_FAMILIES)}, e.g. R@100 or mR@100 (ctx* and viol* exist on the "
            "synthetic benchmark only)"
        )
    if family in STRUCTURE_FAMILIES and family not in metrics:
        raise ValueError(
            f"Metric '{name}' is not available: the structure metrics need the synthetic "
            "benchmark's extras (context, truths in image_data.json), which this data set lacks"
        )
    if not isinstance(metrics.get(family), dict):
        raise ValueError(f"Metric '{name}' is not available for this evaluation (mode "
                         f"{metrics.get('mode')}; A@K exists in PredCls and SGCls only)")
    value = metrics[family].get(parsed.group(2))
    if value is None:
        raise ValueError(
            f"Metric '{name}' is not available: K={parsed.group(2)} must be one of "
            f"TEST.RELATION.RECALL_KS {sorted(int(k) for k in metrics[family])} and at least "
            "one evaluated image must have GT relations (ctx*: context-decided ones)"
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

    def structure_spec(self, dataset: Any) -> StructureSpec | None:
        """What the synthetic benchmark's structure features need for ``dataset``, or None.

        The structure metrics are on when the data set carries the generator's extras
        (``get_structure_annotations(0)`` is not None); joint decoding when the settings ask for
        it. Either needs the synthetic benchmark's class and predicate names. Called before
        inference, so a wrong data set fails before the model runs.
        """
        getter = getattr(dataset, "get_structure_annotations", None)
        extras = getter is not None and len(dataset) > 0 and getter(0) is not None
        if not extras and not self.settings.joint_decode:
            return None
        error = synthetic_vocabulary_error(dataset.ind_to_classes, dataset.ind_to_predicates)
        if error and self.settings.joint_decode:
            raise ValueError(
                "TEST.RELATION.JOINT_DECODE needs the synthetic benchmark's scene rules, but the "
                f"evaluated data set is not a synthetic one: {error}. Evaluate a synthetic_vg* "
                "data set (tools/make_synthetic_vg.py) or set TEST.RELATION.JOINT_DECODE False"
            )
        if error:
            raise ValueError(
                "The data set carries the synthetic benchmark's extras (context, truths in "
                f"image_data.json) but {error}; the files do not come from one generator run, "
                "regenerate them with tools/make_synthetic_vg.py"
            )
        tables = rule_tables(tuple(dataset.ind_to_classes), tuple(dataset.ind_to_predicates))
        return StructureSpec(tables, extras, self.settings.joint_decode)

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
        structure = self.structure_spec(dataset)
        records = list(tqdm(
            evaluate_images(dataset, predictions, s.mode, s.iou_threshold, max(s.recall_ks),
                            s.num_predicates, s.num_workers, structure),
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
        if structure is not None and structure.metrics:
            context_rule = _cat([records[i].structure.context_rule for i in evaluated])
            metrics.update(compute_structure_metrics(
                table, context_rule, [r.structure for r in records], s.recall_ks,
                s.num_predicates))
        if s.joint_decode:
            metrics["joint_decode"] = True
        if s.detection_map:
            metrics["detection"] = self._detection(records, dataset.ind_to_classes)
        text = format_results(metrics, dataset.ind_to_predicates[1:])
        return SGGEvalOutput(metrics, text, records)
