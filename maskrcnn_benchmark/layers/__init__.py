"""Layers: FrozenBatchNorm2d and thin wrappers over torchvision.ops with SGB semantics."""

from .batch_norm import FrozenBatchNorm2d
from .nms import batched_nms, nms
from .roi_align import ROIAlign, roi_align
from .smooth_l1_loss import smooth_l1_loss

__all__ = ["FrozenBatchNorm2d", "nms", "batched_nms", "ROIAlign", "roi_align", "smooth_l1_loss"]
