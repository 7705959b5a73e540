"""Non-maximum suppression with maskrcnn-benchmark's "+1" pixel IoU, on torchvision.ops.

maskrcnn-benchmark's NMS kernels measure a box as ``x2 - x1 + 1`` pixels wide (the BoxList
convention); torchvision measures ``x2 - x1``. Shifting ``x2`` and ``y2`` by one pixel before
calling torchvision gives exactly the reference IoU, so detections match SGB's. The
implementation lives in ``structures/boxlist_ops.py``; these are the names layers use.
"""

from maskrcnn_benchmark.structures.boxlist_ops import box_batched_nms as batched_nms
from maskrcnn_benchmark.structures.boxlist_ops import box_nms as nms

__all__ = ["nms", "batched_nms"]
