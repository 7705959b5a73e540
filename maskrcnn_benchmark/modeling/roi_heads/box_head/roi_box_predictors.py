"""Box predictors (class logits and box deltas), registered in ROI_BOX_PREDICTOR."""

import torch
from torch import nn

from maskrcnn_benchmark.config import CfgNode
from maskrcnn_benchmark.modeling.registry import ROI_BOX_PREDICTOR

__all__ = ["FPNPredictor", "make_roi_box_predictor"]


class FPNPredictor(nn.Module):
    """Linear ``cls_score`` (C logits) and ``bbox_pred`` (4C deltas, or 8 if class-agnostic).

    Class-agnostic regression keeps maskrcnn-benchmark's layout: two box slots (background,
    foreground), the foreground slot is used.
    """

    def __init__(self, in_channels: int, num_classes: int, cls_agnostic_bbox_reg: bool) -> None:
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        num_bbox_reg_classes = 2 if cls_agnostic_bbox_reg else num_classes
        self.bbox_pred = nn.Linear(in_channels, num_bbox_reg_classes * 4)
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        for layer in (self.cls_score, self.bbox_pred):
            nn.init.constant_(layer.bias, 0)

    @classmethod
    def from_config(cls, cfg: CfgNode, in_channels: int) -> "FPNPredictor":
        """Build from MODEL.ROI_BOX_HEAD.NUM_CLASSES and MODEL.CLS_AGNOSTIC_BBOX_REG."""
        return cls(in_channels, cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES, cfg.MODEL.CLS_AGNOSTIC_BBOX_REG)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits [K, C] and box deltas [K, 4C] (or [K, 8])."""
        x = x.flatten(start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)


ROI_BOX_PREDICTOR.register("FPNPredictor", FPNPredictor.from_config)


def make_roi_box_predictor(cfg: CfgNode, in_channels: int) -> nn.Module:
    """The predictor named by MODEL.ROI_BOX_HEAD.PREDICTOR."""
    return ROI_BOX_PREDICTOR.get(cfg.MODEL.ROI_BOX_HEAD.PREDICTOR)(cfg, in_channels)
