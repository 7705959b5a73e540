"""SGDet's late per-class NMS that commits one label to each detected box (SGB semantics)."""

from __future__ import annotations

import torch
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import TO_REMOVE

__all__ = ["per_class_box_overlaps", "greedy_label_nms"]


def per_class_box_overlaps(boxes_per_cls: Tensor) -> Tensor:
    """[N, C, 4] class-specific boxes -> [N, N, C] IoU of boxes i and j under class c (+1)."""
    lt = torch.max(boxes_per_cls[:, None, :, :2], boxes_per_cls[None, :, :, :2])
    rb = torch.min(boxes_per_cls[:, None, :, 2:], boxes_per_cls[None, :, :, 2:])
    wh = (rb - lt + TO_REMOVE).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area = (boxes_per_cls[..., 2] - boxes_per_cls[..., 0] + TO_REMOVE) * (
        boxes_per_cls[..., 3] - boxes_per_cls[..., 1] + TO_REMOVE
    )
    return inter / (area[:, None, :] + area[None, :, :] - inter)


@torch.no_grad()
def greedy_label_nms(obj_logits: Tensor, boxes_per_cls: Tensor, nms_thresh: float) -> Tensor:
    """Assign a label to each box by greedy NMS over (box, class) probabilities.

    Repeatedly take the highest remaining (box, class) probability (the first one in row-major
    order on ties), give that box that class, zero the class for every box overlapping it by
    IoU >= ``nms_thresh`` under that class, and retire the box. Background probabilities are 0,
    so a box whose classes were all suppressed can end up with label 0, exactly as in SGB.

    Args:
        obj_logits: [N, C] object logits.
        boxes_per_cls: [N, C, 4] class-specific xyxy boxes.
        nms_thresh: IoU threshold (TEST.RELATION.LATER_NMS_PREDICTION_THRES).
    Returns:
        [N] long labels.
    """
    num_obj, num_cls = obj_logits.shape
    if boxes_per_cls.shape[:2] != (num_obj, num_cls):
        raise ValueError(
            f"boxes_per_cls {tuple(boxes_per_cls.shape)} does not match logits "
            f"{tuple(obj_logits.shape)}"
        )
    suppress = per_class_box_overlaps(boxes_per_cls.float()) >= nms_thresh
    probs = torch.softmax(obj_logits.float(), dim=1)
    probs[:, 0] = 0.0
    labels = torch.zeros(num_obj, dtype=torch.int64, device=obj_logits.device)
    for _ in range(num_obj):
        flat = int(torch.argmax(probs))
        box, cls = divmod(flat, num_cls)
        labels[box] = cls
        probs[suppress[box, :, cls], cls] = 0.0
        probs[box] = -1.0
    return labels
