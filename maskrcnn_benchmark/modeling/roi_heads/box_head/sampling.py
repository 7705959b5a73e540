"""Matching of proposals to GT boxes and fg/bg sampling of RoIs for the box head."""

from collections.abc import Sequence

import torch

from maskrcnn_benchmark.modeling.balanced_positive_negative_sampler import (
    BalancedPositiveNegativeSampler,
)
from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.modeling.matcher import Matcher
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.boxlist_ops import boxlist_iou

__all__ = ["FastRCNNSampling"]


class FastRCNNSampling:
    """Label proposals by their best GT box and sample a balanced RoI batch per image."""

    def __init__(
        self, matcher: Matcher, sampler: BalancedPositiveNegativeSampler, box_coder: BoxCoder
    ) -> None:
        self.matcher = matcher
        self.sampler = sampler
        self.box_coder = box_coder

    def _match(self, proposal: BoxList, target: BoxList) -> tuple[torch.Tensor, torch.Tensor]:
        """Matched GT index [N] and the GT label of each proposal (0 where unmatched)."""
        matched_idxs = self.matcher(boxlist_iou(target, proposal))
        if len(target) == 0:
            return matched_idxs, torch.zeros_like(matched_idxs)
        labels = target.get_field("labels").to(torch.int64)[matched_idxs.clamp(min=0)]
        labels = torch.where(matched_idxs < 0, torch.zeros_like(labels), labels)
        return matched_idxs, labels

    def subsample(
        self, proposals: Sequence[BoxList], targets: Sequence[BoxList]
    ) -> list[BoxList]:
        """Sampled proposals with fields ``labels`` (0 = background) and ``regression_targets``.

        Proposals between the background and foreground IoU thresholds are never sampled.
        """
        labels, regression_targets = [], []
        for proposal, target in zip(proposals, targets):
            matched_idxs, labels_per_image = self._match(proposal, target)
            # -1 marks proposals in the ignored IoU band for the sampler.
            labels_per_image[matched_idxs == Matcher.BETWEEN_THRESHOLDS] = -1
            if len(target) > 0:
                matched_boxes = target.convert("xyxy").bbox[matched_idxs.clamp(min=0)]
                reg = self.box_coder.encode(matched_boxes, proposal.convert("xyxy").bbox)
            else:
                reg = torch.zeros_like(proposal.bbox)
            labels.append(labels_per_image)
            regression_targets.append(reg)

        pos_masks, neg_masks = self.sampler(labels)
        sampled = []
        for proposal, labels_i, reg_i, pos, neg in zip(
            proposals, labels, regression_targets, pos_masks, neg_masks
        ):
            keep = torch.nonzero(pos | neg).squeeze(1)
            proposal = proposal.copy_with_fields([])[keep]
            proposal.add_field("labels", labels_i[keep])
            proposal.add_field("regression_targets", reg_i[keep])
            sampled.append(proposal)
        return sampled

    def assign_label_to_proposals(
        self, proposals: Sequence[BoxList], targets: Sequence[BoxList]
    ) -> list[BoxList]:
        """Add ``labels`` (GT label if IoU >= FG threshold, else 0) to every proposal."""
        for proposal, target in zip(proposals, targets):
            proposal.add_field("labels", self._match(proposal, target)[1])
        return list(proposals)
