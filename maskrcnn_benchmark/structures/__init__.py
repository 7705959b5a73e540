"""Data structures: BoxList (boxes + fields), ImageList (padded batch), box operations."""

from .bounding_box import FLIP_LEFT_RIGHT, FLIP_TOP_BOTTOM, TO_REMOVE, BoxList
from .boxlist_ops import boxlist_iou, boxlist_nms, cat_boxlist
from .image_list import ImageList, to_image_list

__all__ = [
    "BoxList",
    "ImageList",
    "to_image_list",
    "boxlist_iou",
    "boxlist_nms",
    "cat_boxlist",
    "FLIP_LEFT_RIGHT",
    "FLIP_TOP_BOTTOM",
    "TO_REMOVE",
]
