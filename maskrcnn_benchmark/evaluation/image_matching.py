"""Per-image triplet matching, vectorised over all predictions, GT rows and K values at once.

A prediction matches a GT relation when subject class, object class and predicate are equal
and both the subject and the object box have IoU >= the threshold (+1 pixel convention), as
in SGB's ``_compute_pred_matches``. Instead of SGB's per-prediction lists of matched GT rows,
each GT row keeps the rank of the *first* prediction that matches it: the GT row is recalled
at K exactly when that rank is < K, so every K is one comparison and only the first max(K)
predictions need matching.

Ties (documented in docs/EVALUATION.md): graph-constrained predictions keep the given order
(the post-processor sorts them) and take the lowest predicate index among equal scores;
no-graph-constraint entries are ranked by a stable descending sort of the pair-major flattened
[pair, predicate] score matrix, so equal scores go to the earlier pair, then the lower predicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskrcnn_benchmark.structures.bounding_box import TO_REMOVE, BoxList

from .modes import SGGMode

__all__ = [
    "NEVER",
    "NOGC_TOP",
    "ImageGroundTruth",
    "ImagePrediction",
    "ImageMatches",
    "box_iou_plus_one",
    "match_image",
    "nogc_ranking",
]

# Rank of a GT row that no prediction matches: larger than any K.
NEVER = np.iinfo(np.int64).max
# SGB keeps the top 100 (pair, predicate) entries for no-graph-constraint recall, whatever K.
NOGC_TOP = 100


@dataclass
class ImageGroundTruth:
    """GT of one image in original pixels: boxes [G, 4] xyxy, labels [G], relations [R, 3]."""

    boxes: np.ndarray
    labels: np.ndarray
    relations: np.ndarray

    @classmethod
    def from_boxlist(cls, target: BoxList) -> ImageGroundTruth:
        """From ``dataset.get_groundtruth(i, evaluation=True)`` (fields labels, relation_tuple)."""
        return cls(
            boxes=target.convert("xyxy").bbox.detach().cpu().numpy(),
            labels=target.get_field("labels").detach().cpu().long().numpy(),
            relations=target.get_field("relation_tuple").cpu().long().numpy().reshape(-1, 3),
        )


@dataclass
class ImagePrediction:
    """Predictions of one image in original pixels.

    boxes [N, 4] xyxy, labels [N], scores [N], rel_pairs [P, 2] (ranked), rel_scores [P, C]
    (column 0 = background). ``rel_labels`` [P]: the graph-constrained predicate of each pair
    when a decoder chose it (TEST.RELATION.JOINT_DECODE); None = argmax over columns 1.., lowest
    index on ties.
    """

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    rel_pairs: np.ndarray
    rel_scores: np.ndarray
    rel_labels: np.ndarray | None = None

    @classmethod
    def from_boxlist(cls, prediction: BoxList, image_size: tuple[int, int]) -> ImagePrediction:
        """Resize a prediction BoxList to the original (W, H) first, as SGB does."""
        resized = prediction.resize(image_size).convert("xyxy")
        return cls(
            boxes=resized.bbox.detach().cpu().numpy(),
            labels=prediction.get_field("pred_labels").detach().cpu().long().numpy(),
            scores=prediction.get_field("pred_scores").detach().cpu().numpy(),
            rel_pairs=prediction.get_field("rel_pair_idxs").detach().cpu().long().numpy(),
            rel_scores=prediction.get_field("pred_rel_scores").detach().cpu().numpy(),
        )

    def graph_labels(self, rows: slice | np.ndarray) -> np.ndarray:
        """Graph-constrained predicate (1..) of the pair ``rows``."""
        if self.rel_labels is not None:
            return self.rel_labels[rows]
        scores = self.rel_scores[rows, 1:]
        return scores.argmax(axis=1) + 1 if len(scores) else np.zeros(0, dtype=np.int64)


@dataclass
class ImageMatches:
    """For each GT relation row, the 0-based rank of the first prediction that matches it.

    ``first_hit`` ranks graph-constrained predictions, ``first_hit_nogc`` the top-100
    no-graph-constraint entries, ``first_hit_gt_pairs`` only the predictions on GT index pairs
    (A@K; None in SGDet). ``NEVER`` marks rows no prediction matches.
    """

    first_hit: np.ndarray
    first_hit_nogc: np.ndarray
    first_hit_gt_pairs: np.ndarray | None


def box_iou_plus_one(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Pairwise IoU [N, M] with the +1 pixel convention, same operations as SGB's boxlist_iou."""
    area1 = (boxes1[:, 2] - boxes1[:, 0] + TO_REMOVE) * (boxes1[:, 3] - boxes1[:, 1] + TO_REMOVE)
    area2 = (boxes2[:, 2] - boxes2[:, 0] + TO_REMOVE) * (boxes2[:, 3] - boxes2[:, 1] + TO_REMOVE)
    lt = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = np.maximum(rb - lt + TO_REMOVE, 0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2[None, :] - inter)


def _first_hits(
    subjects: np.ndarray,
    objects: np.ndarray,
    predicates: np.ndarray,
    box_match: np.ndarray,
    gt_relations: np.ndarray,
) -> np.ndarray:
    """Rank of the first of the given (ranked) predictions matching each GT row, or NEVER."""
    if len(predicates) == 0:
        return np.full(len(gt_relations), NEVER, dtype=np.int64)
    hit = (
        box_match[np.ix_(subjects, gt_relations[:, 0])]
        & box_match[np.ix_(objects, gt_relations[:, 1])]
        & (predicates[:, None] == gt_relations[None, :, 2])
    )
    return np.where(hit.any(axis=0), hit.argmax(axis=0), NEVER)


def nogc_ranking(
    rel_scores: np.ndarray, pair_scores: np.ndarray | None, top: int = NOGC_TOP
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``top`` (pair row, predicate) entries by pair score x predicate score, ranked.

    ``pair_scores`` [P] is subject score x object score (None = all ones, PredCls). Only rows
    whose best entry reaches the ``top``-th largest row maximum can hold a top entry, so the
    exact stable sort runs on those rows only. Returns (pair rows, predicates 1..C-1).
    """
    foreground = rel_scores[:, 1:]
    num_rows, num_predicates = foreground.shape
    if num_rows == 0 or num_predicates == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Reducing the transposed view is ~1.5x faster than max(axis=1) over rows of 50 values.
    # NaN propagates through max, so one check covers every entry.
    row_max = foreground.T.max(axis=0)
    if not np.isfinite(row_max).all():
        raise ValueError("pred_rel_scores contain NaN or inf; the model output is invalid")
    if pair_scores is not None:  # rounding is monotone, so this equals the max of the products
        row_max = pair_scores * row_max
    rows = np.arange(num_rows)
    if num_rows > top:
        kth_largest = np.partition(row_max, num_rows - top)[num_rows - top]
        rows = np.flatnonzero(row_max >= kth_largest)
    scores = foreground[rows] if pair_scores is None else pair_scores[rows, None] * foreground[rows]
    scores = scores.ravel()
    entries = np.arange(len(scores))
    if len(scores) > top:  # keep entries reaching the top-th largest value (ties included)
        entries = np.flatnonzero(scores >= np.partition(scores, len(scores) - top)[-top])
    # entries ascend in flat (pair-major) order, so the stable sort breaks ties by that order
    order = entries[np.argsort(-scores[entries], kind="stable")[:top]]
    return rows[order // num_predicates], order % num_predicates + 1


def _validate(gt: ImageGroundTruth, pred: ImagePrediction, mode: SGGMode) -> None:
    box_indices = gt.relations[:, :2]
    if box_indices.min(initial=0) < 0 or box_indices.max(initial=-1) >= len(gt.labels):
        raise ValueError(
            f"GT relation_tuple refers to box {int(gt.relations[:, :2].max())} but the GT has "
            f"{len(gt.labels)} boxes; check the dataset's get_groundtruth(evaluation=True)"
        )
    num_boxes = len(gt.labels) if mode is SGGMode.PREDCLS else len(pred.labels)
    pairs = pred.rel_pairs
    if pairs.min(initial=0) < 0 or pairs.max(initial=-1) >= num_boxes:
        raise ValueError(
            f"rel_pair_idxs refer to box {int(pairs.max())} but the image has {num_boxes} "
            f"{'GT' if mode is SGGMode.PREDCLS else 'predicted'} boxes ({mode.value}); in PredCls "
            "the predictions must index the GT boxes of dataset.get_groundtruth(i, evaluation=True)"
        )
    if not np.isfinite(pred.scores).all():
        raise ValueError("pred_scores contain NaN or inf; the model output is invalid")


def match_image(
    gt: ImageGroundTruth,
    pred: ImagePrediction,
    mode: SGGMode,
    iou_threshold: float,
    max_k: int,
) -> ImageMatches:
    """Match one image's predictions to its GT relations for every metric at once."""
    _validate(gt, pred, mode)
    if mode is SGGMode.PREDCLS:  # SGB: GT boxes and labels, object scores 1
        boxes, labels, obj_scores = gt.boxes, gt.labels, None
    else:
        boxes, labels, obj_scores = pred.boxes, pred.labels, pred.scores
    # box_match[n, j]: predicted box n can stand for the j-th GT box used by a relation (same
    # class, IoU >= threshold); relation_boxes re-indexes the GT relations into those columns.
    used, relation_boxes = np.unique(gt.relations[:, :2], return_inverse=True)
    relations = np.column_stack((relation_boxes.reshape(-1, 2), gt.relations[:, 2]))
    box_match = (labels[:, None] == gt.labels[None, used]) & (
        box_iou_plus_one(boxes, gt.boxes[used]) >= iou_threshold
    )
    pairs, rel_scores = pred.rel_pairs, pred.rel_scores

    head = pairs[:max_k]
    head_predicates = pred.graph_labels(slice(0, len(head)))
    first_hit = _first_hits(head[:, 0], head[:, 1], head_predicates, box_match, relations)

    pair_scores = None if obj_scores is None else obj_scores[pairs[:, 0]] * obj_scores[pairs[:, 1]]
    nogc_rows, nogc_predicates = nogc_ranking(rel_scores, pair_scores)
    first_hit_nogc = _first_hits(
        pairs[nogc_rows, 0], pairs[nogc_rows, 1], nogc_predicates, box_match, relations
    )

    first_hit_gt_pairs = None
    if mode.uses_gt_boxes:
        # Exact index-pair lookup (SGB encodes pairs as s * 1024 + o: equal below 1024 boxes).
        size = max(len(boxes), len(gt.labels))  # SGCls may see fewer boxes than the GT has
        is_gt_pair = np.zeros((size, size), dtype=bool)
        is_gt_pair[gt.relations[:, 0], gt.relations[:, 1]] = True
        rows = np.flatnonzero(is_gt_pair[pairs[:, 0], pairs[:, 1]])[:max_k]
        first_hit_gt_pairs = _first_hits(
            pairs[rows, 0],
            pairs[rows, 1],
            pred.graph_labels(rows),
            box_match,
            relations,
        )
    return ImageMatches(first_hit, first_hit_nogc, first_hit_gt_pairs)
