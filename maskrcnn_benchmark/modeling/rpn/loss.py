"""RPN loss: objectness BCE and smooth-L1 box regression on sampled anchors."""

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from maskrcnn_benchmark.layers import smooth_l1_loss
from maskrcnn_benchmark.modeling.balanced_positive_negative_sampler import (
    BalancedPositiveNegativeSampler,
)
from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.modeling.matcher import Matcher
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.boxlist_ops import boxlist_iou, cat_boxlist

from .utils import concat_box_prediction_layers

__all__ = ["RPNLossComputation"]


class RPNLossComputation:
    """Label anchors by IoU with the GT boxes, sample them and compute the two RPN losses.

    Anchors matching a GT box (IoU >= high threshold, or the best anchor of a GT) are positive,
    below the low threshold negative; anchors in between or not visible are ignored. The box
    loss (beta 1/9, summed over positives) is divided by the number of sampled anchors.
    """

    def __init__(
        self, matcher: Matcher, sampler: BalancedPositiveNegativeSampler, box_coder: BoxCoder
    ) -> None:
        self.matcher = matcher
        self.sampler = sampler
        self.box_coder = box_coder

    def prepare_targets(
        self, anchors: Sequence[BoxList], targets: Sequence[BoxList]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per image: anchor labels (1, 0, -1 = ignore) and regression targets [A, 4]."""
        labels, regression_targets = [], []
        for anchors_per_image, targets_per_image in zip(anchors, targets):
            matched_idxs = self.matcher(boxlist_iou(targets_per_image, anchors_per_image))
            labels_per_image = (matched_idxs >= 0).to(torch.float32)
            labels_per_image[~anchors_per_image.get_field("visibility")] = -1
            labels_per_image[matched_idxs == Matcher.BETWEEN_THRESHOLDS] = -1
            if len(targets_per_image) > 0:
                matched_boxes = targets_per_image.convert("xyxy").bbox[matched_idxs.clamp(min=0)]
                reg = self.box_coder.encode(matched_boxes, anchors_per_image.bbox)
            else:
                reg = torch.zeros_like(anchors_per_image.bbox)
            labels.append(labels_per_image)
            regression_targets.append(reg)
        return labels, regression_targets

    def __call__(
        self,
        anchors: Sequence[Sequence[BoxList]],
        objectness: Sequence[torch.Tensor],
        box_regression: Sequence[torch.Tensor],
        targets: Sequence[BoxList],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(objectness loss, box regression loss) for a batch."""
        anchors = [cat_boxlist(list(anchors_per_image)) for anchors_per_image in anchors]
        labels, regression_targets = self.prepare_targets(anchors, targets)
        pos_masks, neg_masks = self.sampler(labels)
        sampled_pos = torch.nonzero(torch.cat(pos_masks)).squeeze(1)
        sampled = torch.nonzero(torch.cat(pos_masks) | torch.cat(neg_masks)).squeeze(1)

        objectness, box_regression = concat_box_prediction_layers(objectness, box_regression)
        objectness = objectness.squeeze(1).float()
        box_regression = box_regression.float()
        labels = torch.cat(labels)
        regression_targets = torch.cat(regression_targets)

        num_sampled = max(sampled.numel(), 1)
        box_loss = smooth_l1_loss(
            box_regression[sampled_pos], regression_targets[sampled_pos],
            beta=1.0 / 9, size_average=False,
        ) / num_sampled
        objectness_loss = F.binary_cross_entropy_with_logits(
            objectness[sampled], labels[sampled], reduction="sum"
        ) / num_sampled
        return objectness_loss, box_loss
