"""Box head post-processing: per-class decoding, score threshold, per-class NMS, top-k."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from maskrcnn_benchmark.layers import batched_nms
from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.structures.bounding_box import BoxList

__all__ = ["PostProcessor", "keep_top_scores"]


def keep_top_scores(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` highest scores, in their original order; ties at the cut go to the
    earlier candidate (proposals come in descending objectness, so the more confident one).

    SGB keeps every candidate tied with the k-th score, so a detector whose softmax saturates
    (an untrained one: hundreds of scores exactly 1.0) passed hundreds of boxes and O(n^2)
    pairs to the relation head; here at most ``k`` are kept. With distinct scores at the cut
    (any trained detector, in practice) the result is SGB's.
    """
    order = torch.sort(scores, descending=True, stable=True).indices[:k]
    return torch.sort(order).values


class PostProcessor:
    """Turn class logits and box deltas of proposals into detections, as SGB does.

    Per image: softmax, decode one box per class, clip; every (proposal, class >= 1) with
    score > ``score_thresh`` is a candidate; per-class NMS at ``nms`` keeping at most
    ``post_nms_per_cls_topn`` per class. With ``nms_filter_duplicates`` each proposal keeps only
    its best surviving class (neural-motifs); otherwise detections are listed class by class.
    Finally at most ``detections_per_img`` by score (ties at the cut broken by candidate order,
    where SGB keeps them all; see ``keep_top_scores``).

    Each result BoxList holds the class box and the fields ``pred_scores`` and ``pred_labels``;
    in relation mode also ``boxes_per_cls`` [n, C, 4], ``predict_logits`` [n, C] and, when the
    proposals carry them, the matched GT ``labels``.
    """

    def __init__(
        self,
        score_thresh: float,
        nms: float,
        post_nms_per_cls_topn: int,
        nms_filter_duplicates: bool,
        detections_per_img: int,
        box_coder: BoxCoder,
        cls_agnostic_bbox_reg: bool,
    ) -> None:
        self.score_thresh = score_thresh
        self.nms = nms
        self.post_nms_per_cls_topn = post_nms_per_cls_topn
        self.nms_filter_duplicates = nms_filter_duplicates
        self.detections_per_img = detections_per_img
        self.box_coder = box_coder
        self.cls_agnostic_bbox_reg = cls_agnostic_bbox_reg

    def __call__(
        self,
        class_logits: torch.Tensor,
        box_regression: torch.Tensor,
        proposals: Sequence[BoxList],
        relation_mode: bool = False,
    ) -> tuple[list[BoxList], list[torch.Tensor]]:
        """Detections per image and, per image, the proposal index of each detection."""
        class_prob = F.softmax(class_logits.float(), -1)
        box_regression = box_regression.float()
        if self.cls_agnostic_bbox_reg:
            box_regression = box_regression[:, -4:]
        concat_boxes = torch.cat([p.convert("xyxy").bbox for p in proposals], dim=0)
        decoded = self.box_coder.decode(box_regression, concat_boxes)
        num_classes = class_prob.shape[1]
        if self.cls_agnostic_bbox_reg:
            decoded = decoded.repeat(1, num_classes)

        boxes_per_image = [len(p) for p in proposals]
        results, kept = [], []
        for prob, boxes, proposal in zip(
            class_prob.split(boxes_per_image), decoded.split(boxes_per_image), proposals
        ):
            boxes_per_cls = BoxList(boxes.reshape(-1, 4), proposal.size, mode="xyxy")
            boxes_per_cls = boxes_per_cls.clip_to_image(remove_empty=False).bbox
            boxes_per_cls = boxes_per_cls.reshape(-1, num_classes, 4)
            result, orig_inds = self._filter(boxes_per_cls, prob, proposal.size)
            if relation_mode:
                result.add_field("boxes_per_cls", boxes_per_cls[orig_inds])
                result.add_field("predict_logits", proposal.get_field("predict_logits")[orig_inds])
                if proposal.has_field("labels"):
                    result.add_field("labels", proposal.get_field("labels")[orig_inds])
            results.append(result)
            kept.append(orig_inds)
        return results, kept

    def _filter(
        self, boxes_per_cls: torch.Tensor, scores: torch.Tensor, image_size: tuple[int, int]
    ) -> tuple[BoxList, torch.Tensor]:
        # Candidates (proposal, class) above the threshold; background (class 0) never counts.
        candidate = scores > self.score_thresh
        candidate[:, 0] = False
        prop_idx, cls_idx = torch.nonzero(candidate, as_tuple=True)
        cand_scores = scores[prop_idx, cls_idx]
        keep = batched_nms(boxes_per_cls[prop_idx, cls_idx], cand_scores, cls_idx, self.nms)
        # Regroup class by class (stable sort keeps each class's score order), cap each class.
        keep = keep[torch.sort(cls_idx[keep], stable=True).indices]
        kept_cls = cls_idx[keep]
        first_of_class = torch.searchsorted(kept_cls, kept_cls, right=False)
        rank_in_class = torch.arange(len(keep), device=keep.device) - first_of_class
        keep = keep[rank_in_class < self.post_nms_per_cls_topn]
        prop_idx, cls_idx, cand_scores = prop_idx[keep], cls_idx[keep], cand_scores[keep]

        if self.nms_filter_duplicates:
            # Each proposal keeps the best class among those that survived NMS.
            survived = torch.zeros_like(scores)
            survived[prop_idx, cls_idx] = scores[prop_idx, cls_idx]
            best_scores, best_labels = survived.max(dim=1)
            prop_idx = torch.nonzero(best_scores > 0).squeeze(1)
            cls_idx, cand_scores = best_labels[prop_idx], best_scores[prop_idx]

        if len(cand_scores) > self.detections_per_img > 0:
            top = keep_top_scores(cand_scores, self.detections_per_img)
            prop_idx, cls_idx, cand_scores = prop_idx[top], cls_idx[top], cand_scores[top]

        result = BoxList(boxes_per_cls[prop_idx, cls_idx], image_size, mode="xyxy")
        result.add_field("pred_scores", cand_scores)
        result.add_field("pred_labels", cls_idx)
        return result, prop_idx
