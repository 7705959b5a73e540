"""The three SGG evaluation protocols and how they follow from the two GT flags."""

from __future__ import annotations

from enum import Enum

__all__ = ["SGGMode", "sgg_mode"]


class SGGMode(str, Enum):
    """PredCls (GT boxes and labels), SGCls (GT boxes) or SGDet (nothing given)."""

    PREDCLS = "predcls"
    SGCLS = "sgcls"
    SGDET = "sgdet"

    @property
    def uses_gt_boxes(self) -> bool:
        """Whether the model sees GT boxes (PredCls and SGCls; A@K is defined only then)."""
        return self is not SGGMode.SGDET


def sgg_mode(use_gt_box: bool, use_gt_object_label: bool) -> SGGMode:
    """Mode from MODEL.ROI_RELATION_HEAD.USE_GT_BOX / USE_GT_OBJECT_LABEL, as in SGB."""
    if not use_gt_box:
        return SGGMode.SGDET
    return SGGMode.PREDCLS if use_gt_object_label else SGGMode.SGCLS
