"""VCTree's overlap statistics of each box with the other boxes of its image (+1 pixel).

The 9-d box encoding of every context encoder is ``structures.scene_graph.encode_box_info``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import TO_REMOVE, BoxList

__all__ = ["box_overlap_info", "pairwise_intersection"]

# VCTree normalises intersection and box areas by this constant squared (SGB's IM_SCALE).
_OVERLAP_AREA_SCALE = 1024.0


def pairwise_intersection(boxes: Tensor) -> Tensor:
    """[N, N] intersection areas of xyxy boxes (+1 pixel convention; the diagonal is the area)."""
    lt = torch.max(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
    wh = (rb - lt + TO_REMOVE).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def box_overlap_info(proposals: Sequence[BoxList]) -> Tensor:
    """Return VCTree's [sum N_i, 6] overlap statistics of each box with the boxes of its image.

    Columns: number of boxes it intersects (itself included), summed intersection / 1024^2,
    summed IoU, the two sums divided by the count, and its area / 1024^2. As in SGB, the own
    area in the last column has no +1 while intersections and IoUs use the +1 convention.
    """
    infos = []
    for proposal in proposals:
        boxes = proposal.convert("xyxy").bbox
        inter = pairwise_intersection(boxes)
        area = (boxes[:, 2] - boxes[:, 0] + TO_REMOVE) * (boxes[:, 3] - boxes[:, 1] + TO_REMOVE)
        iou = inter / (area[:, None] + area[None, :] - inter + 1e-9)
        count = (inter > 0).float().sum(1, keepdim=True)
        inter_sum = inter.sum(1, keepdim=True) / _OVERLAP_AREA_SCALE**2
        iou_sum = iou.sum(1, keepdim=True)
        plain_area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).unsqueeze(1)
        infos.append(
            torch.cat(
                [
                    count,
                    inter_sum,
                    iou_sum,
                    inter_sum / (count + 1e-9),
                    iou_sum / (count + 1e-9),
                    plain_area / _OVERLAP_AREA_SCALE**2,
                ],
                dim=1,
            )
        )
    if not infos:
        return torch.zeros(0, 6)
    return torch.cat(infos, dim=0)
