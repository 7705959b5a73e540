"""Post-processing: object labels and scores, ranked relation triplets (the evaluator's input)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import BoxList

from .object_nms import greedy_label_nms

__all__ = ["RelationPostProcessor"]


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
        obj_probs = torch.softmax(obj_logits, dim=-1)
        obj_probs[:, 0] = 0.0
        if self.use_gt_box:
            scores, labels = obj_probs[:, 1:].max(dim=1)
            boxlist = BoxList(box.bbox, box.size, box.mode)
            if box.has_field("labels"):  # the GT labels, as SGB's output carries them
                boxlist.add_field("labels", box.get_field("labels"))
            return boxlist, labels + 1, scores
        boxes_per_cls = box.get_field("boxes_per_cls")
        labels = greedy_label_nms(obj_logits, boxes_per_cls, self.later_nms_thresh)
        rows = torch.arange(len(labels), device=labels.device)
        scores = obj_probs[rows, labels]
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
            rel_scores, rel_labels = rel_probs[:, 1:].max(dim=1)
            triple_scores = rel_scores * obj_scores[pair_idx[:, 0]] * obj_scores[pair_idx[:, 1]]
            order = torch.sort(triple_scores, descending=True, stable=True).indices
            boxlist.add_field("pred_labels", obj_labels)
            boxlist.add_field("pred_scores", obj_scores)
            boxlist.add_field("rel_pair_idxs", pair_idx[order])
            boxlist.add_field("pred_rel_scores", rel_probs[order])
            boxlist.add_field("pred_rel_labels", rel_labels[order] + 1)
            results.append(boxlist)
        return results
