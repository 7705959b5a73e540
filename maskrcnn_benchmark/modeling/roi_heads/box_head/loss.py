"""Box head loss: cross-entropy over classes and smooth-L1 on the GT class's box deltas."""

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from maskrcnn_benchmark.layers import smooth_l1_loss
from maskrcnn_benchmark.structures.bounding_box import BoxList

__all__ = ["FastRCNNLossComputation"]


class FastRCNNLossComputation:
    """Classification CE (mean over sampled RoIs) and box loss (beta 1, sum / #RoIs)."""

    def __init__(self, cls_agnostic_bbox_reg: bool) -> None:
        self.cls_agnostic_bbox_reg = cls_agnostic_bbox_reg

    def __call__(
        self,
        class_logits: torch.Tensor,
        box_regression: torch.Tensor,
        proposals: Sequence[BoxList],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss_classifier, loss_box_reg) for sampled ``proposals`` (see FastRCNNSampling)."""
        class_logits, box_regression = class_logits.float(), box_regression.float()
        labels = torch.cat([p.get_field("labels") for p in proposals])
        regression_targets = torch.cat([p.get_field("regression_targets") for p in proposals])
        if labels.numel() == 0:  # no RoI at all: zero losses that still reach the graph
            zero = class_logits.sum() * 0 + box_regression.sum() * 0
            return zero, zero.clone()
        classification_loss = F.cross_entropy(class_logits, labels)

        pos = torch.nonzero(labels > 0).squeeze(1)
        offsets = torch.arange(4, device=labels.device)
        if self.cls_agnostic_bbox_reg:
            # Slot 1 of the two class-agnostic slots (columns 4..7) is the foreground box.
            columns = (4 + offsets).expand(pos.numel(), 4)
        else:
            columns = 4 * labels[pos, None] + offsets
        box_loss = smooth_l1_loss(
            box_regression[pos[:, None], columns], regression_targets[pos],
            beta=1.0, size_average=False,
        ) / labels.numel()
        return classification_loss, box_loss
