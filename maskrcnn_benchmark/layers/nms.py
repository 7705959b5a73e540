"""Non-maximum suppression with maskrcnn-benchmark's "+1" pixel IoU, on torchvision.ops.

maskrcnn-benchmark's NMS kernels measure a box as ``x2 - x1 + 1`` pixels wide (the BoxList
convention); torchvision measures ``x2 - x1``. Shifting ``x2`` and ``y2`` by one pixel before
calling torchvision gives exactly the reference IoU, so detections match SGB's.
"""

import torch
from torchvision.ops import batched_nms as _tv_batched_nms
from torchvision.ops import nms as _tv_nms

from maskrcnn_benchmark.structures.bounding_box import TO_REMOVE

__all__ = ["nms", "batched_nms"]


def _to_continuous(boxes: torch.Tensor) -> torch.Tensor:
    return torch.cat((boxes[:, :2], boxes[:, 2:] + TO_REMOVE), dim=1)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the kept xyxy ``boxes`` [N, 4], sorted by decreasing ``scores``."""
    return _tv_nms(_to_continuous(boxes.float()), scores.float(), iou_threshold)


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """NMS applied independently within each value of ``groups`` (e.g. class labels)."""
    return _tv_batched_nms(_to_continuous(boxes.float()), scores.float(), groups, iou_threshold)
