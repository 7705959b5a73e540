"""Operations on BoxLists: IoU (+1 pixel convention), NMS, concatenation, union boxes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.ops import batched_nms as _tv_batched_nms
from torchvision.ops import nms as _tv_nms

from .bounding_box import TO_REMOVE, BoxList

__all__ = [
    "box_nms",
    "box_batched_nms",
    "boxlist_iou",
    "box_iou_xyxy",
    "boxlist_nms",
    "cat_boxlist",
    "remove_small_boxes",
    "boxlist_union",
    "boxlist_intersection",
    "split_boxlist",
]


def box_iou_xyxy(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU [N, M] of xyxy boxes with the +1 pixel convention of SGB."""
    area1 = (boxes1[:, 2] - boxes1[:, 0] + TO_REMOVE) * (boxes1[:, 3] - boxes1[:, 1] + TO_REMOVE)
    area2 = (boxes2[:, 2] - boxes2[:, 0] + TO_REMOVE) * (boxes2[:, 3] - boxes2[:, 1] + TO_REMOVE)
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt + TO_REMOVE).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2[None, :] - inter)


def boxlist_iou(boxlist1: BoxList, boxlist2: BoxList) -> torch.Tensor:
    """Pairwise IoU [N, M] between two BoxLists of the same image."""
    if boxlist1.size != boxlist2.size:
        raise ValueError(f"boxlists must share an image size: {boxlist1} vs {boxlist2}")
    return box_iou_xyxy(boxlist1.convert("xyxy").bbox, boxlist2.convert("xyxy").bbox)


def _to_continuous(boxes: torch.Tensor) -> torch.Tensor:
    # torchvision measures a box as x2 - x1 wide; shifting x2, y2 by one pixel gives the +1 IoU
    return torch.cat((boxes[:, :2], boxes[:, 2:] + TO_REMOVE), dim=1)


def box_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS with the +1 pixel IoU of SGB's kernels; kept indices by decreasing score."""
    return _tv_nms(_to_continuous(boxes.float()), scores.float(), iou_threshold)


def box_batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor,
                    iou_threshold: float) -> torch.Tensor:
    """``box_nms`` applied independently within each value of ``groups`` (e.g. class labels)."""
    return _tv_batched_nms(_to_continuous(boxes.float()), scores.float(), groups, iou_threshold)


def boxlist_nms(
    boxlist: BoxList, nms_thresh: float, max_proposals: int = -1, score_field: str = "scores"
) -> BoxList:
    """Non-maximum suppression (+1 pixel IoU) on ``score_field``; keeps <= ``max_proposals``."""
    if nms_thresh <= 0:
        return boxlist
    mode = boxlist.mode
    boxlist = boxlist.convert("xyxy")
    keep = box_nms(boxlist.bbox, boxlist.get_field(score_field), nms_thresh)
    if max_proposals > 0:
        keep = keep[:max_proposals]
    return boxlist[keep].convert(mode)


def remove_small_boxes(boxlist: BoxList, min_size: float) -> BoxList:
    """Drop boxes whose width or height (+1 convention) is below ``min_size``."""
    xywh = boxlist.convert("xywh").bbox
    keep = ((xywh[:, 2] >= min_size) & (xywh[:, 3] >= min_size)).nonzero().squeeze(1)
    return boxlist[keep]


def cat_boxlist(bboxes: Sequence[BoxList]) -> BoxList:
    """Concatenate BoxLists of one image (same size, mode and field names)."""
    if len(bboxes) == 0:
        raise ValueError("cat_boxlist needs at least one BoxList")
    if len(bboxes) == 1:
        return bboxes[0]
    size, mode = bboxes[0].size, bboxes[0].mode
    fields = set(bboxes[0].fields())
    for b in bboxes:
        if b.size != size or b.mode != mode or set(b.fields()) != fields:
            raise ValueError("cat_boxlist needs BoxLists with equal size, mode and fields")
    out = BoxList(torch.cat([b.bbox for b in bboxes], dim=0), size, mode)
    for name in fields:
        if name in bboxes[0].triplet_extra_fields:
            mats = [b.get_field(name) for b in bboxes]
            out.add_field(name, torch.block_diag(*mats), is_triplet=True)
        else:
            values = [b.get_field(name) for b in bboxes]
            if isinstance(values[0], torch.Tensor):
                out.add_field(name, torch.cat(values, dim=0))
            else:
                out.add_field(name, [v for value in values for v in value])
    return out


def split_boxlist(boxlist: BoxList, sizes: Sequence[int]) -> list[BoxList]:
    """Split a concatenated BoxList into consecutive chunks of ``sizes``."""
    out, start = [], 0
    for n in sizes:
        out.append(boxlist[start : start + n])
        start += n
    return out


def boxlist_union(boxlist1: BoxList, boxlist2: BoxList) -> BoxList:
    """Row-wise union box of two equally long BoxLists (subject and object of each pair)."""
    if len(boxlist1) != len(boxlist2) or boxlist1.size != boxlist2.size:
        raise ValueError("boxlist_union needs two BoxLists of equal length and image size")
    b1, b2 = boxlist1.convert("xyxy").bbox, boxlist2.convert("xyxy").bbox
    union = torch.cat((torch.min(b1[:, :2], b2[:, :2]), torch.max(b1[:, 2:], b2[:, 2:])), dim=1)
    return BoxList(union, boxlist1.size, "xyxy")


def boxlist_intersection(boxlist1: BoxList, boxlist2: BoxList) -> BoxList:
    """Row-wise intersection box (zero box where the pair does not overlap)."""
    if len(boxlist1) != len(boxlist2) or boxlist1.size != boxlist2.size:
        raise ValueError("boxlist_intersection needs two BoxLists of equal length and image size")
    b1, b2 = boxlist1.convert("xyxy").bbox, boxlist2.convert("xyxy").bbox
    inter = torch.cat((torch.max(b1[:, :2], b2[:, :2]), torch.min(b1[:, 2:], b2[:, 2:])), dim=1)
    invalid = (inter[:, 0] > inter[:, 2]) | (inter[:, 1] > inter[:, 3])
    inter[invalid] = 0
    return BoxList(inter, boxlist1.size, "xyxy")
