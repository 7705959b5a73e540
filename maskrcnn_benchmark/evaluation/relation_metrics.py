"""Dataset-level relation metrics from the per-GT-row first-hit ranks of every image.

Definitions follow SGB's ``sgg_eval.py`` (see docs/EVALUATION.md): recalls are averaged over
images that have GT relations; mR averages, per predicate class, the per-image recall of that
class over the images where it occurs and divides the sum by the number of predicate classes
(absent classes count as 0); zero-/few-shot recall averages only over images holding such
triplets; A@K = mean(hits) / mean(GT count). All K values are computed together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .triplet_groups import TripletGroup

__all__ = ["RelationTable", "compute_relation_metrics"]


@dataclass
class RelationTable:
    """All evaluated GT relation rows of a dataset, one entry per row.

    ``image_index`` numbers the images that have GT relations 0..num_images-1; the first-hit
    arrays are ``ImageMatches`` concatenated; ``group_masks`` say which rows are in each group.
    """

    num_images: int
    image_index: np.ndarray
    predicates: np.ndarray
    first_hit: np.ndarray
    first_hit_nogc: np.ndarray
    first_hit_gt_pairs: np.ndarray | None
    group_masks: dict[str, np.ndarray]


def _per_image(table: RelationTable, values: np.ndarray) -> np.ndarray:
    return np.bincount(table.image_index, weights=values, minlength=table.num_images)


def _recall(table: RelationTable, hits: np.ndarray, gt_per_image: np.ndarray) -> float | None:
    if table.num_images == 0:
        return None
    return float(np.mean(_per_image(table, hits) / gt_per_image))


def _per_predicate(
    table: RelationTable, hits: np.ndarray, num_predicates: int
) -> list[float]:
    """Per predicate class 1..C-1: mean over images containing it of its per-image recall."""
    key = table.image_index * num_predicates + table.predicates
    size = table.num_images * num_predicates
    counts = np.bincount(key, minlength=size).reshape(table.num_images, num_predicates)
    hit_counts = np.bincount(key, weights=hits, minlength=size).reshape(counts.shape)
    per_class = []
    for c in range(1, num_predicates):
        present = counts[:, c] > 0
        per_class.append(
            float(np.mean(hit_counts[present, c] / counts[present, c])) if present.any() else 0.0
        )
    return per_class


def _mean(values: list[float]) -> float:
    total = 0.0
    for value in values:  # sequential sum, as SGB, so results agree to the last bit
        total += value
    return total / float(len(values))


def _group_recall(
    table: RelationTable, hits: np.ndarray, mask: np.ndarray
) -> tuple[float | None, int]:
    in_group = _per_image(table, mask.astype(np.float64))
    present = in_group > 0
    if not present.any():
        return None, 0
    recall = _per_image(table, (hits & mask).astype(np.float64))[present] / in_group[present]
    return float(np.mean(recall)), int(present.sum())


def compute_relation_metrics(
    table: RelationTable,
    recall_ks: Sequence[int],
    num_predicates: int,
    groups: Sequence[TripletGroup],
) -> dict:
    """Every relation metric for every K, keyed like the printed labels (K keys are strings).

    ``num_predicates`` includes background. A value is None when no image qualifies for it.
    """
    if table.predicates.min(initial=0) < 0 or table.predicates.max(initial=0) >= num_predicates:
        raise ValueError(
            f"GT predicate labels span {int(table.predicates.min())}..{int(table.predicates.max())}"
            f" but there are {num_predicates} predicate classes; check "
            "MODEL.ROI_RELATION_HEAD.NUM_CLASSES for this dataset"
        )
    gt_per_image = _per_image(table, np.ones(len(table.predicates)))
    out: dict = {name: {} for name in ("R", "ngR", "mR", "ng-mR")}
    per_predicate: dict = {"R": {}, "ngR": {}}
    groups_out: dict = {
        g.key: {"kind": g.kind, "description": g.description, "num_images": 0, "R": {}, "ngR": {}}
        for g in groups
    }
    accuracy: dict | None = None if table.first_hit_gt_pairs is None else {}
    for k in recall_ks:
        key = str(k)
        hits, hits_nogc = table.first_hit < k, table.first_hit_nogc < k
        out["R"][key] = _recall(table, hits.astype(np.float64), gt_per_image)
        out["ngR"][key] = _recall(table, hits_nogc.astype(np.float64), gt_per_image)
        per_predicate["R"][key] = _per_predicate(table, hits, num_predicates)
        per_predicate["ngR"][key] = _per_predicate(table, hits_nogc, num_predicates)
        out["mR"][key] = _mean(per_predicate["R"][key])
        out["ng-mR"][key] = _mean(per_predicate["ngR"][key])
        for g in groups:
            mask = table.group_masks[g.key]
            groups_out[g.key]["R"][key], count = _group_recall(table, hits, mask)
            groups_out[g.key]["ngR"][key], _ = _group_recall(table, hits_nogc, mask)
            groups_out[g.key]["num_images"] = count
        if accuracy is not None:
            pair_hits = _per_image(table, (table.first_hit_gt_pairs < k).astype(np.float64))
            accuracy[key] = (
                float(np.mean(pair_hits) / np.mean(gt_per_image)) if table.num_images else None
            )
    gt_instances = np.bincount(table.predicates, minlength=num_predicates)[1:]
    image_key = np.unique(table.image_index * num_predicates + table.predicates)
    gt_images = np.bincount(image_key % num_predicates, minlength=num_predicates)[1:]
    out["A"] = accuracy
    out["per_predicate"] = {
        **per_predicate,
        "gt_instances": gt_instances.tolist(),
        "gt_images": gt_images.tolist(),
    }
    out["triplet_groups"] = groups_out
    return out
