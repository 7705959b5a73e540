"""Structure metrics of the synthetic benchmark: recall on the context-decided relations and
the rule-violation rate of the predicted graphs (docs/EVALUATION.md, "Structure metrics").

Per image (``image_structure``, run where the matching runs): which GT rows a context rule
decides (from the generator's ``context`` list, aligned to the GT rows by (subject, object,
predicate)) and the violation events of the top-max(K) graph-constrained triplets. Per split
(``compute_structure_metrics``): ctxR / ng-ctxR (the GT rows restricted to context-decided
ones, the R / ngR matches), ctx-mR / ng-ctx-mR (their mean over the predicate classes that
occur among them), viol (violations per image of the top-K graph) and viol-any (share of
images with at least one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from maskrcnn_benchmark.data.datasets.synthetic.rules import CONTEXT_RULES

from .relation_metrics import RelationTable
from .structure_rules import VIOLATION_KINDS, RuleTables, violation_events

__all__ = ["CONTEXT_RULE_NAMES", "STRUCTURE_FAMILIES", "StructureSpec", "ImageStructure",
           "context_rules_of_rows", "image_structure", "compute_structure_metrics"]

CONTEXT_RULE_NAMES = tuple(rule.name for rule in CONTEXT_RULES)
# The JSON metric families (dicts K -> value) this module adds.
STRUCTURE_FAMILIES = ("ctxR", "ctx-mR", "ng-ctxR", "ng-ctx-mR", "viol", "viol-any")


@dataclass(frozen=True)
class StructureSpec:
    """What the per-image work needs: the rule tables and which of the two features is on."""

    tables: RuleTables
    metrics: bool  # the data set carries the generator's extras: compute the metrics
    joint_decode: bool  # re-decode every image's relation scores under the scene rules


@dataclass
class ImageStructure:
    """Per image: the context rule of each GT row (-1 = decided by the pair itself) and the
    violation events (rank, kind) of the top-max(K) predicted graph."""

    context_rule: np.ndarray
    violation_ranks: np.ndarray
    violation_kinds: np.ndarray


def context_rules_of_rows(annotations: dict[str, Any], gt_relations: np.ndarray,
                          index: int) -> np.ndarray:
    """[R] index into CONTEXT_RULE_NAMES of each GT row (-1: decided by its own pair).

    ``annotations`` is ``dataset.get_structure_annotations(index)``; its ``relations`` are the
    rows its ``context`` list refers to, matched to the GT rows by (subject, object, predicate)
    so that a filtered or reordered GT (the train split's filters) still aligns.
    """
    names = annotations["context"]
    rows = np.asarray(annotations["relations"], dtype=np.int64).reshape(-1, 3)
    if len(names) != len(rows):
        raise ValueError(f"image {index}: {len(names)} context entries for {len(rows)} "
                         "relations; regenerate the data set with tools/make_synthetic_vg.py")
    rule_of: dict[tuple[int, int, int], int] = {}
    for row, name in zip(rows.tolist(), names):
        if name and name not in CONTEXT_RULE_NAMES:
            raise ValueError(f"image {index}: unknown context rule '{name}' in image_data.json "
                             f"(known: {', '.join(CONTEXT_RULE_NAMES)}); regenerate the data set")
        rule = CONTEXT_RULE_NAMES.index(name) if name else -1
        rule_of[tuple(row)] = max(rule_of.get(tuple(row), -1), rule)
    out = np.empty(len(gt_relations), dtype=np.int64)
    for i, row in enumerate(gt_relations.tolist()):
        if tuple(row) not in rule_of:
            raise ValueError(f"image {index}: GT relation {tuple(row)} is not among the "
                             "relations of the data set's structure annotations; the h5 and "
                             "image_data.json must come from one generator run")
        out[i] = rule_of[tuple(row)]
    return out


def image_structure(spec: StructureSpec, annotations: dict[str, Any] | None,
                    gt_relations: np.ndarray, labels: np.ndarray, boxes: np.ndarray,
                    triplets: np.ndarray, index: int) -> ImageStructure:
    """The structure record of one image: ``labels`` / ``boxes`` are the graph's nodes (class
    ids, original pixels), ``triplets`` its first max(K) ranked (subject, object, predicate)."""
    if annotations is None:
        raise ValueError(f"image {index} has no structure annotations (context, truths in "
                         "image_data.json) while the data set's first image has them; "
                         "regenerate the data set with tools/make_synthetic_vg.py")
    if triplets[:, :2].min(initial=0) < 0 or triplets[:, :2].max(initial=-1) >= len(labels):
        raise ValueError(f"image {index}: rel_pair_idxs refer to box "
                         f"{int(triplets[:, :2].max())} but the graph has {len(labels)} boxes")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= len(spec.tables.classes):
        raise ValueError(f"image {index}: object labels span {int(labels.min())}.."
                         f"{int(labels.max())} but the data set has "
                         f"{len(spec.tables.classes)} classes")
    ranks, kinds = violation_events(spec.tables, labels, boxes, triplets)
    return ImageStructure(context_rules_of_rows(annotations, gt_relations, index), ranks, kinds)


def _recall_over(image_index: np.ndarray, hits: np.ndarray, mask: np.ndarray,
                 num_images: int) -> tuple[float | None, int]:
    """Mean over images holding masked rows of the share of those rows hit; image count."""
    total = np.bincount(image_index[mask], minlength=num_images)
    present = total > 0
    if not present.any():
        return None, 0
    hit = np.bincount(image_index[mask & hits], minlength=num_images)
    return float(np.mean(hit[present] / total[present])), int(present.sum())


def _per_predicate(image_index: np.ndarray, predicates: np.ndarray, hits: np.ndarray,
                   mask: np.ndarray, num_images: int, num_predicates: int) -> list[float | None]:
    """Per predicate class 1..: mean over images where it occurs among the masked rows of its
    per-image recall there; None where it never occurs."""
    key = image_index[mask] * num_predicates + predicates[mask]
    size = num_images * num_predicates
    counts = np.bincount(key, minlength=size).reshape(num_images, num_predicates)
    hit = np.bincount(key, weights=hits[mask], minlength=size).reshape(counts.shape)
    out: list[float | None] = []
    for c in range(1, num_predicates):
        present = counts[:, c] > 0
        out.append(float(np.mean(hit[present, c] / counts[present, c])) if present.any()
                   else None)
    return out


def _mean_present(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def compute_structure_metrics(table: RelationTable, context_rule: np.ndarray,
                              structures: Sequence[ImageStructure], recall_ks: Sequence[int],
                              num_predicates: int) -> dict[str, Any]:
    """The six families (K keys are strings) and their details under ``structure``.

    ``context_rule`` is aligned with the table's GT rows; ``structures`` holds every image of
    the split (viol averages over all images, ctxR over images with context-decided rows).
    """
    context = context_rule >= 0
    out: dict[str, Any] = {name: {} for name in STRUCTURE_FAMILIES}
    per_predicate: dict[str, dict] = {"R": {}, "ngR": {}}
    per_rule = {name: {"R": {}, "ngR": {}, "num_images": 0} for name in CONTEXT_RULE_NAMES}
    ranks = [s.violation_ranks for s in structures]
    kinds = [s.violation_kinds for s in structures]
    by_kind: dict[str, dict] = {name: {} for name in VIOLATION_KINDS}
    num_images = 0
    for k in recall_ks:
        key = str(k)
        for prefix, first_hit, family in (("", table.first_hit, "R"),
                                          ("ng-", table.first_hit_nogc, "ngR")):
            hits = first_hit < k
            out[f"{prefix}ctxR"][key], num_images = _recall_over(
                table.image_index, hits, context, table.num_images)
            per_predicate[family][key] = _per_predicate(
                table.image_index, table.predicates, hits, context, table.num_images,
                num_predicates)
            out[f"{prefix}ctx-mR"][key] = _mean_present(per_predicate[family][key])
            for r, name in enumerate(CONTEXT_RULE_NAMES):
                per_rule[name][family][key], per_rule[name]["num_images"] = _recall_over(
                    table.image_index, hits, context_rule == r, table.num_images)
        counts = np.array([int((r < k).sum()) for r in ranks], dtype=np.float64)
        out["viol"][key] = float(counts.mean()) if len(structures) else None
        out["viol-any"][key] = float((counts > 0).mean()) if len(structures) else None
        kind_counts = np.bincount(
            np.concatenate([kd[r < k] for r, kd in zip(ranks, kinds)] or [np.zeros(0, int)]),
            minlength=len(VIOLATION_KINDS))
        for j, name in enumerate(VIOLATION_KINDS):
            by_kind[name][key] = float(kind_counts[j] / len(structures)) if structures else None
    out["structure"] = {
        "num_images_with_context": num_images,
        "num_context_relations": int(context.sum()),
        "context_gt_instances": np.bincount(table.predicates[context],
                                            minlength=num_predicates)[1:].tolist(),
        "ctx_per_predicate": per_predicate,
        "ctx_per_rule": per_rule,
        "viol_by_kind": by_kind,
    }
    return out
