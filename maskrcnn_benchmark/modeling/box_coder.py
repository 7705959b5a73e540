"""Box coding of Faster R-CNN: (dx, dy, dw, dh) deltas of a box relative to a reference box."""

import math

import torch

from maskrcnn_benchmark.structures.bounding_box import TO_REMOVE

__all__ = ["BoxCoder"]


class BoxCoder:
    """Encode boxes as weighted deltas against reference boxes and decode them back.

    Widths follow the +1 pixel convention (``x2 - x1 + 1``), so a decoded box ends at
    ``ctr + 0.5 w - 1``; encode followed by decode returns the input boxes.
    """

    def __init__(
        self,
        weights: tuple[float, float, float, float],
        bbox_xform_clip: float = math.log(1000.0 / 16),
    ) -> None:
        self.weights = tuple(float(w) for w in weights)
        # exp() of larger log-scale deltas would overflow; 1000/16 is Detectron's bound.
        self.bbox_xform_clip = bbox_xform_clip

    def encode(self, reference_boxes: torch.Tensor, proposals: torch.Tensor) -> torch.Tensor:
        """Deltas [N, 4] that move ``proposals`` [N, 4] onto ``reference_boxes`` [N, 4]."""
        ex_widths = proposals[:, 2] - proposals[:, 0] + TO_REMOVE
        ex_heights = proposals[:, 3] - proposals[:, 1] + TO_REMOVE
        ex_ctr_x = proposals[:, 0] + 0.5 * ex_widths
        ex_ctr_y = proposals[:, 1] + 0.5 * ex_heights

        gt_widths = reference_boxes[:, 2] - reference_boxes[:, 0] + TO_REMOVE
        gt_heights = reference_boxes[:, 3] - reference_boxes[:, 1] + TO_REMOVE
        gt_ctr_x = reference_boxes[:, 0] + 0.5 * gt_widths
        gt_ctr_y = reference_boxes[:, 1] + 0.5 * gt_heights

        wx, wy, ww, wh = self.weights
        return torch.stack(
            (
                wx * (gt_ctr_x - ex_ctr_x) / ex_widths,
                wy * (gt_ctr_y - ex_ctr_y) / ex_heights,
                ww * torch.log(gt_widths / ex_widths),
                wh * torch.log(gt_heights / ex_heights),
            ),
            dim=1,
        )

    def decode(self, rel_codes: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Apply deltas [N, 4k] (k boxes per row, e.g. one per class) to ``boxes`` [N, 4]."""
        boxes = boxes.to(rel_codes.dtype)
        widths = boxes[:, 2] - boxes[:, 0] + TO_REMOVE
        heights = boxes[:, 3] - boxes[:, 1] + TO_REMOVE
        ctr_x = boxes[:, 0] + 0.5 * widths
        ctr_y = boxes[:, 1] + 0.5 * heights

        wx, wy, ww, wh = self.weights
        dx = rel_codes[:, 0::4] / wx
        dy = rel_codes[:, 1::4] / wy
        dw = (rel_codes[:, 2::4] / ww).clamp(max=self.bbox_xform_clip)
        dh = (rel_codes[:, 3::4] / wh).clamp(max=self.bbox_xform_clip)

        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        pred_w = torch.exp(dw) * widths[:, None]
        pred_h = torch.exp(dh) * heights[:, None]

        # The "- 1" on x2/y2 undoes the +1 width convention (inclusive end pixel).
        decoded = torch.stack(
            (
                pred_ctr_x - 0.5 * pred_w,
                pred_ctr_y - 0.5 * pred_h,
                pred_ctr_x + 0.5 * pred_w - TO_REMOVE,
                pred_ctr_y + 0.5 * pred_h - TO_REMOVE,
            ),
            dim=2,
        )
        return decoded.reshape(rel_codes.shape)
