"""What to draw for one image: a ``GraphView`` (boxes, labels, triplets, statuses, scores),
built from a prediction BoxList, a ``visualization.pth`` record or SGB's custom_prediction.json.

Triplets are ranked by triplet score (predicate score x subject score x object score, the
ranking of the evaluation), then limited to ``score >= threshold`` and the first ``top_k``.
Only the boxes of the kept triplets are drawn; each keeps its index in the source (``box_ids``)
so that one object has one number and one colour in every panel of an image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from maskrcnn_benchmark.evaluation.image_matching import box_iou_plus_one
from maskrcnn_benchmark.structures.bounding_box import BoxList

from .draw import draw_scene_graph

__all__ = [
    "GraphView",
    "ImageViews",
    "limit_text",
    "rank_triplets",
    "view_from_prediction",
    "view_from_custom",
    "record_views",
    "mark_differences",
]

# (subject class, object class, predicate) rows [M, 3] -> bool [M], True for zero-shot types
ZeroShotFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class GraphView:
    """The inputs of ``draw_scene_graph`` for one panel."""

    boxes: np.ndarray  # [N, 4] xyxy, pixels of the image drawn on
    box_labels: list[str]
    relations: list[tuple[int, int, str]]
    relation_status: list[str] | None = None
    scores: list[float] | None = None
    marked: list[bool] | None = None
    box_ids: list[int] | None = None  # numbers shown for the boxes (default 0..N-1)

    def draw(self, image: Image.Image, **options) -> Image.Image:
        """``draw_scene_graph`` of this view on ``image`` (``options`` as there)."""
        return draw_scene_graph(
            image, self.boxes, self.box_labels, self.relations,
            relation_status=self.relation_status, scores=self.scores, marked=self.marked,
            box_ids=self.box_ids, **options)


@dataclass
class ImageViews:
    """GT and prediction panels of one ``visualization.pth`` image, with recall counts."""

    gt: GraphView
    prediction: GraphView
    gt_zero_shot: np.ndarray  # [R] bool per drawn GT relation
    recalled: int  # GT relations recalled by the drawn predictions
    zero_shot_recalled: int

    @property
    def plain_gt(self) -> GraphView:
        """The GT panel without recall colours: "gt" or "zero-shot gt" per relation."""
        status = ["zero-shot gt" if z else "gt" for z in self.gt_zero_shot]
        return replace(self.gt, relation_status=status)


def limit_text(top_k: int | None, threshold: float | None) -> str:
    """How the drawn triplets were limited, for titles: "top 10, score >= 0.1"."""
    text = "all" if top_k is None else f"top {top_k}"
    return text + (f", score >= {threshold:g}" if threshold is not None else "")


def rank_triplets(triplet_scores: np.ndarray, top_k: int | None,
                  threshold: float | None) -> np.ndarray:
    """Rows by descending score (stable), those >= threshold, the first ``top_k``."""
    scores = np.asarray(triplet_scores, dtype=np.float64).reshape(-1)
    if not np.isfinite(scores).all():
        raise ValueError("triplet scores contain NaN or inf; the predictions are invalid")
    order = np.argsort(-scores, kind="stable")
    if threshold is not None:
        order = order[scores[order] >= threshold]
    return order if top_k is None else order[:top_k]


def _names(indices: np.ndarray, names: Sequence[str], what: str) -> list[str]:
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(names)):
        raise ValueError(f"{what} index {int(indices.max())} is outside the {len(names)} "
                         f"{what} names; the predictions and the class lists do not match")
    return [names[i] for i in indices]


def _subgraph(boxes: np.ndarray, labels: Sequence[str], triplets: np.ndarray,
              predicates: Sequence[str]) -> tuple[np.ndarray, list[str], list, list[int]]:
    """The boxes used by ``triplets`` [T, 3] (subject, object, predicate name index), renumbered."""
    used = np.unique(triplets[:, :2]) if len(triplets) else np.zeros(0, dtype=np.int64)
    position = {int(b): k for k, b in enumerate(used)}
    relations = [(position[int(s)], position[int(o)], predicates[int(p)]) for s, o, p in triplets]
    return boxes[used].reshape(-1, 4), [labels[b] for b in used], relations, used.tolist()


def view_from_prediction(
    prediction: BoxList, classes: Sequence[str], predicates: Sequence[str], *,
    image_size: tuple[int, int] | None = None, top_k: int | None = 20,
    threshold: float | None = None,
) -> GraphView:
    """Top triplets of a prediction BoxList (the prediction contract's fields).

    ``image_size`` (W, H) resizes the boxes from the network-input frame to the image drawn on.
    """
    if image_size is not None:
        prediction = prediction.resize(image_size)
    boxes = prediction.convert("xyxy").bbox.detach().cpu().double().numpy()
    obj_scores = prediction.get_field("pred_scores").detach().cpu().double().numpy()
    pairs = prediction.get_field("rel_pair_idxs").detach().cpu().long().numpy().reshape(-1, 2)
    rel_scores = prediction.get_field("pred_rel_scores").detach().cpu().double().numpy()
    foreground = rel_scores[:, 1:].reshape(len(pairs), -1)
    predicate = foreground.argmax(axis=1) + 1 if len(pairs) else np.zeros(0, dtype=np.int64)
    score = foreground.max(axis=1) if len(pairs) else np.zeros(0)
    triplet = score * obj_scores[pairs[:, 0]] * obj_scores[pairs[:, 1]]
    keep = rank_triplets(triplet, top_k, threshold)
    labels = _names(prediction.get_field("pred_labels").cpu().numpy(), classes, "object class")
    _names(predicate[keep], predicates, "predicate")
    rows = np.column_stack((pairs[keep], predicate[keep])).reshape(-1, 3)
    sub_boxes, sub_labels, relations, ids = _subgraph(boxes, labels, rows, predicates)
    return GraphView(sub_boxes, sub_labels, relations, ["predicted"] * len(relations),
                     triplet[keep].tolist(), box_ids=ids)


_CUSTOM_KEYS = ("bbox", "bbox_labels", "bbox_scores", "rel_pairs", "rel_labels", "rel_scores")


def view_from_custom(
    entry: dict, classes: Sequence[str], predicates: Sequence[str], *,
    top_k: int | None = 20, threshold: float | None = None,
    box_scale: tuple[float, float] = (1.0, 1.0),
) -> GraphView:
    """Top triplets of one custom_prediction.json entry (boxes x ``box_scale`` = (sx, sy))."""
    missing = [k for k in _CUSTOM_KEYS if k not in entry]
    if missing:
        raise KeyError(f"custom prediction entry lacks {missing} (SGB's custom_prediction.json "
                       f"has {list(_CUSTOM_KEYS)})")
    boxes = np.asarray(entry["bbox"], dtype=np.float64).reshape(-1, 4)
    boxes = boxes * np.array([box_scale[0], box_scale[1], box_scale[0], box_scale[1]])
    obj_scores = np.asarray(entry["bbox_scores"], dtype=np.float64).reshape(-1)
    pairs = np.asarray(entry["rel_pairs"], dtype=np.int64).reshape(-1, 2)
    predicate = np.asarray(entry["rel_labels"], dtype=np.int64).reshape(-1)
    score = np.asarray(entry["rel_scores"], dtype=np.float64).reshape(-1)
    if not (len(obj_scores) == len(boxes) == len(entry["bbox_labels"])):
        raise ValueError(f"custom prediction has {len(boxes)} boxes but {len(obj_scores)} scores "
                         f"and {len(entry['bbox_labels'])} labels")
    if not (len(predicate) == len(score) == len(pairs)):
        raise ValueError(f"custom prediction has {len(pairs)} pairs but {len(predicate)} labels "
                         f"and {len(score)} scores")
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= len(boxes)):
        raise ValueError(f"rel_pairs refer to box {int(pairs.max())} of {len(boxes)}")
    labels = _names(entry["bbox_labels"], classes, "object class")
    _names(predicate, predicates, "predicate")
    triplet = score * obj_scores[pairs[:, 0]] * obj_scores[pairs[:, 1]]
    keep = rank_triplets(triplet, top_k, threshold)
    rows = np.column_stack((pairs[keep], predicate[keep])).reshape(-1, 3)
    sub_boxes, sub_labels, relations, ids = _subgraph(boxes, labels, rows, predicates)
    return GraphView(sub_boxes, sub_labels, relations, ["predicted"] * len(relations),
                     triplet[keep].tolist(), box_ids=ids)


def _numpy(value) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def record_views(
    record: dict, classes: Sequence[str], predicates: Sequence[str], *,
    top_k: int | None = 10, threshold: float | None = None, iou_threshold: float = 0.5,
    zero_shot: ZeroShotFn | None = None,
) -> ImageViews:
    """GT and prediction panels of one ``visualization.pth`` image record.

    A drawn prediction is "matched" when it recalls a GT relation (same classes and predicate,
    both boxes IoU >= ``iou_threshold``, as the evaluation), "zero-shot" when that GT triplet
    type is zero-shot; a GT relation is "matched" / "missed" by the drawn predictions.
    """
    gt_boxes = _numpy(record["gt_boxes"]).astype(np.float64).reshape(-1, 4)
    gt_labels = _numpy(record["gt_labels"]).astype(np.int64).reshape(-1)
    gt_rels = _numpy(record["gt_relations"]).astype(np.int64).reshape(-1, 3)
    _, first = np.unique(gt_rels, axis=0, return_index=True)  # duplicates drawn once
    gt_rels = gt_rels[np.sort(first)]
    boxes = _numpy(record["boxes"]).astype(np.float64).reshape(-1, 4)
    labels = _numpy(record["labels"]).astype(np.int64).reshape(-1)
    obj_scores = _numpy(record["scores"]).astype(np.float64).reshape(-1)
    pairs = _numpy(record["rel_pairs"]).astype(np.int64).reshape(-1, 2)
    predicate = _numpy(record["rel_labels"]).astype(np.int64).reshape(-1)
    score = _numpy(record["rel_scores"]).astype(np.float64).reshape(-1)
    # the stored order is the evaluation's ranking: keep it, cut by threshold and K
    triplet = score * obj_scores[pairs[:, 0]] * obj_scores[pairs[:, 1]]
    keep = np.arange(len(pairs))
    if threshold is not None:
        keep = keep[triplet >= threshold]
    keep = keep if top_k is None else keep[:top_k]

    box_match = (labels[:, None] == gt_labels[None, :]) & (
        box_iou_plus_one(boxes, gt_boxes) >= iou_threshold) if len(gt_boxes) and len(boxes) \
        else np.zeros((len(boxes), len(gt_boxes)), dtype=bool)
    hits = (box_match[np.ix_(pairs[keep, 0], gt_rels[:, 0])]
            & box_match[np.ix_(pairs[keep, 1], gt_rels[:, 1])]
            & (predicate[keep, None] == gt_rels[None, :, 2]))
    gt_triplets = np.column_stack((gt_labels[gt_rels[:, 0]], gt_labels[gt_rels[:, 1]],
                                   gt_rels[:, 2])).reshape(-1, 3)
    gt_zero = (np.asarray(zero_shot(gt_triplets), dtype=bool).reshape(-1)
               if zero_shot is not None and len(gt_rels) else np.zeros(len(gt_rels), dtype=bool))
    recalled = hits.any(axis=0)
    gt_status = [("zero-shot" if r else "zero-shot missed") if z else ("matched" if r else "missed")
                 for r, z in zip(recalled, gt_zero)]
    pred_status = ["zero-shot" if (h & gt_zero).any() else "matched" if h.any() else "unmatched"
                   for h in hits]

    class_names = _names(gt_labels, classes, "object class")
    _names(gt_rels[:, 2], predicates, "predicate")
    sub = _subgraph(gt_boxes, class_names, gt_rels, predicates)
    gt_view = GraphView(sub[0], sub[1], sub[2], gt_status, box_ids=sub[3])
    pred_names = _names(labels, classes, "object class")
    _names(predicate[keep], predicates, "predicate")
    rows = np.column_stack((pairs[keep], predicate[keep])).reshape(-1, 3)
    sub = _subgraph(boxes, pred_names, rows, predicates)
    pred_view = GraphView(sub[0], sub[1], sub[2], pred_status, triplet[keep].tolist(),
                          box_ids=sub[3])
    return ImageViews(gt_view, pred_view, gt_zero, int(recalled.sum()),
                      int((recalled & gt_zero).sum()))


def _same_triplet(a: GraphView, i: int, b: GraphView, j: int, iou_threshold: float) -> bool:
    (sa, oa, pa), (sb, ob, pb) = a.relations[i], b.relations[j]
    if pa != pb or a.box_labels[sa] != b.box_labels[sb] or a.box_labels[oa] != b.box_labels[ob]:
        return False
    iou = box_iou_plus_one(np.stack([a.boxes[sa], a.boxes[oa]]),
                           np.stack([b.boxes[sb], b.boxes[ob]]))
    return bool(iou[0, 0] >= iou_threshold and iou[1, 1] >= iou_threshold)


def mark_differences(views: Sequence[GraphView], iou_threshold: float = 0.5) -> list[GraphView]:
    """Copies of ``views`` with ``marked`` = the triplet is in no other view (same classes and
    predicate, both boxes IoU >= ``iou_threshold``)."""
    out = []
    for k, view in enumerate(views):
        others = [v for n, v in enumerate(views) if n != k]
        marks = [not any(_same_triplet(view, i, other, j, iou_threshold)
                         for other in others for j in range(len(other.relations)))
                 for i in range(len(view.relations))]
        out.append(replace(view, marked=marks))
    return out
