"""GeneralizedRCNN: backbone -> RPN -> ROI box head (-> relation head), SGB's module names."""

import contextlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from maskrcnn_benchmark.config import CfgNode
from maskrcnn_benchmark.modeling.backbone import build_backbone
from maskrcnn_benchmark.modeling.registry import META_ARCH_REGISTRY
from maskrcnn_benchmark.modeling.roi_heads.roi_heads import CombinedROIHeads, build_roi_heads
from maskrcnn_benchmark.modeling.rpn import build_rpn
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.image_list import ImageList, to_image_list

__all__ = ["GeneralizedRCNN", "build_generalized_rcnn"]


class GeneralizedRCNN(nn.Module):
    """Faster R-CNN (``backbone``, ``rpn``, ``roi_heads.box``) with an optional relation head.

    Forward contract (``model(images, targets=None)``):

    - detector (no ``roi_heads.relation``): training -> dict of losses ``loss_objectness``,
      ``loss_rpn_box_reg``, ``loss_classifier``, ``loss_box_reg``; eval -> list[BoxList] of
      detections with ``pred_scores`` and ``pred_labels``.
    - relation mode: training -> the relation head's loss dict (RPN / box losses are never
      computed); eval -> ``roi_heads.relation.post_process(relation_output)``, one BoxList per
      image. PredCls/SGCls need ``targets`` in eval too; their boxes are the GT boxes, so the
      RPN is skipped (SGB runs it and discards the proposals).

    Once :meth:`freeze_detector` is called (done by the builder in relation mode), backbone, RPN
    and box head have ``requires_grad=False``, stay in eval mode whatever ``train()`` says and
    run under ``torch.no_grad()``; their train-time behaviours (train NMS numbers, GT matching
    and GT box appending) still follow the model's ``training`` flag, as in SGB.
    """

    def __init__(self, backbone: nn.Module, rpn: nn.Module, roi_heads: CombinedROIHeads) -> None:
        super().__init__()
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads
        self.detector_frozen = False

    @property
    def detector_parts(self) -> tuple[nn.Module, ...]:
        """The modules of the detector proper: backbone, RPN and box head."""
        return (self.backbone, self.rpn, self.roi_heads.box)

    def freeze_detector(self) -> "GeneralizedRCNN":
        """Freeze backbone, RPN and box head (see the class docstring); returns ``self``."""
        for part in self.detector_parts:
            part.requires_grad_(False)
        self.detector_frozen = True
        return self.train(self.training)

    def train(self, mode: bool = True) -> "GeneralizedRCNN":
        """Set the training mode; frozen detector parts always stay in eval mode."""
        super().train(mode)
        if self.detector_frozen:
            for part in self.detector_parts:
                part.eval()
        return self

    def forward(
        self,
        images: ImageList | torch.Tensor | Sequence[torch.Tensor],
        targets: Sequence[BoxList] | None = None,
    ) -> dict[str, torch.Tensor] | list[BoxList]:
        """Losses in training, predictions in eval (see the class docstring)."""
        if self.training and targets is None:
            raise ValueError("GeneralizedRCNN needs targets (one GT BoxList per image) in training")
        images = to_image_list(images)
        grad_context = torch.no_grad() if self.detector_frozen else contextlib.nullcontext()
        with grad_context:
            features = self.backbone(images.tensors)
            proposals, rpn_losses = None, {}
            if self.roi_heads.box.uses_proposals:
                proposals, rpn_losses = self.rpn(images, features, targets, training=self.training)
            detections, box_losses = self.roi_heads.box(
                features, proposals, targets, training=self.training
            )
        if not self.roi_heads.relation_on:
            return {**rpn_losses, **box_losses} if self.training else detections
        relation_output, relation_losses = self.roi_heads.relation(features, detections, targets)
        if self.training:
            return relation_losses
        return self.roi_heads.relation.post_process(relation_output)


def build_generalized_rcnn(cfg: CfgNode, statistics: Any = None) -> GeneralizedRCNN:
    """Build from cfg; in relation mode the detector parts are frozen."""
    backbone = build_backbone(cfg)
    model = GeneralizedRCNN(
        backbone,
        build_rpn(cfg, backbone.out_channels),
        build_roi_heads(cfg, backbone.out_channels, statistics),
    )
    if cfg.MODEL.RELATION_ON:
        model.freeze_detector()
    return model


META_ARCH_REGISTRY.register("GeneralizedRCNN", build_generalized_rcnn)
