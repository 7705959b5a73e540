"""The three scene graph tasks, decided once from the two task switches of the config."""

from __future__ import annotations

from enum import Enum

__all__ = ["RelationTask"]


class RelationTask(Enum):
    """PredCls (GT boxes and labels), SGCls (GT boxes) or SGDet (detected boxes)."""

    PREDCLS = "predcls"
    SGCLS = "sgcls"
    SGDET = "sgdet"

    @classmethod
    def from_flags(cls, use_gt_box: bool, use_gt_object_label: bool) -> RelationTask:
        """Map MODEL.ROI_RELATION_HEAD.USE_GT_BOX / USE_GT_OBJECT_LABEL to a task."""
        if not use_gt_box:
            if use_gt_object_label:
                raise ValueError(
                    "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL=True needs USE_GT_BOX=True "
                    "(GT labels exist only for GT boxes); set USE_GT_OBJECT_LABEL False for SGDet"
                )
            return cls.SGDET
        return cls.PREDCLS if use_gt_object_label else cls.SGCLS

    @property
    def uses_gt_boxes(self) -> bool:
        """PredCls and SGCls score the GT boxes; SGDet scores detections."""
        return self is not RelationTask.SGDET
