"""Post-processing: object labels and scores, ranked relation triplets (the evaluator's input)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import BoxList

from .object_nms import greedy_label_nms

__all__ = ["RelationPostProcessor", "object_labels_and_scores", "triplet_order"]


def object_labels_and_scores(obj_logits: Tensor, boxes_per_cls: Tensor | None,
                             later_nms_thresh: float) -> tuple[Tensor, Tensor]:
    """(labels, scores) of one image's objects, as the post-processor reports them.

    Probabilities are the softmax of ``obj_logits`` with background set to 0. Without
    ``boxes_per_cls`` (GT boxes): label = argmax over classes 1.., score = its probability.
    With them (SGDet): labels from greedy per-class NMS, score = the probability of that label.
    """
    obj_probs = torch.softmax(obj_logits.float(), dim=-1)
    obj_probs[:, 0] = 0.0
    if boxes_per_cls is None:
        scores, labels = obj_probs[:, 1:].max(dim=1)
        return labels + 1, scores
    labels = greedy_label_nms(obj_logits, boxes_per_cls, later_nms_thresh)
    return labels, obj_probs[torch.arange(len(labels), device=labels.device), labels]


def triplet_order(rel_probs: Tensor, obj_scores: Tensor, pair_idx: Tensor) -> Tensor:
    """Pair indices by triplet score (best foreground predicate probability x subject score x
    object score), descending; a stable sort, so equal scores keep the lower pair first."""
    pair_idx = pair_idx.long()
    triple_scores = (rel_probs[:, 1:].max(dim=1).values * obj_scores[pair_idx[:, 0]]
                     * obj_scores[pair_idx[:, 1]])
    return torch.sort(triple_scores, descending=True, stable=True).indices


class RelationPostProcessor:
    """Turns relation and refined object logits into one prediction BoxList per image.

    Object probabilities are the softmax of the refined logits with background set to 0.
    PredCls / SGCls: label = argmax over classes 1.., score = its probability; the GT boxes keep
    their ``labels`` field (the evaluator's PredCls detection mAP reads it). SGDet: labels
    from greedy per-class NMS over ``boxes_per_cls`` (``later_nms_thresh``), score = the
    probability of that label, box = the class-specific regressed box of that label.

    Relations: ``pred_rel_scores`` is the softmax over all predicates (column 0 = background),
    ``pred_rel_labels`` the argmax over columns 1.., and pairs are sorted by the triplet score
    (best predicate score x subject score x object score), descending, with a stable sort:
    pairs of equal score keep their input order, i.e. the lower pair index comes first.
    """

    def __init__(self, *, use_gt_box: bool, later_nms_thresh: float) -> None:
        self.use_gt_box = use_gt_box
        self.later_nms_thresh = later_nms_thresh

    def _objects(self, obj_logits: Tensor, box: BoxList) -> tuple[BoxList, Tensor, Tensor]:
        if self.use_gt_box:
            labels, scores = object_labels_and_scores(obj_logits, None, self.later_nms_thresh)
            boxlist = BoxList(box.bbox, box.size, box.mode)
            if box.has_field("labels"):  # the GT labels, as SGB's output carries them
                boxlist.add_field("labels", box.get_field("labels"))
            return boxlist, labels, scores
        boxes_per_cls = box.get_field("boxes_per_cls")
        labels, scores = object_labels_and_scores(obj_logits, boxes_per_cls,
                                                  self.later_nms_thresh)
        rows = torch.arange(len(labels), device=labels.device)
        return BoxList(boxes_per_cls[rows, labels], box.size, "xyxy"), labels, scores

    @torch.no_grad()
    def __call__(
        self,
        relation_logits: Sequence[Tensor],
        refine_logits: Sequence[Tensor],
        rel_pair_idxs: Sequence[Tensor],
        proposals: Sequence[BoxList],
    ) -> list[BoxList]:
        """Return per-image BoxLists with pred_labels, pred_scores, rel_pair_idxs,
        pred_rel_scores and pred_rel_labels."""
        results = []
        for rel_logit, obj_logit, pair_idx, box in zip(
            relation_logits, refine_logits, rel_pair_idxs, proposals
        ):
            boxlist, obj_labels, obj_scores = self._objects(obj_logit.float(), box)
            rel_probs = torch.softmax(rel_logit.float(), dim=-1)
            rel_labels = rel_probs[:, 1:].max(dim=1).indices
            order = triplet_order(rel_probs, obj_scores, pair_idx)
            boxlist.add_field("pred_labels", obj_labels)
            boxlist.add_field("pred_scores", obj_scores)
            boxlist.add_field("rel_pair_idxs", pair_idx[order])
            boxlist.add_field("pred_rel_scores", rel_probs[order])
            boxlist.add_field("pred_rel_labels", rel_labels[order] + 1)
            results.append(boxlist)
        return results
