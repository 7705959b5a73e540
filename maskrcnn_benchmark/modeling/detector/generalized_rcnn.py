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
    - energy training (``energy_model`` set, MODEL.ENERGY_ON): the training loss dict is the
      energy objective's Eq. 5 terms (task losses x lambda_t, energy loss, L2 regulariser); in
      eval, an ``energy_refiner`` (TEST.ENERGY_REFINE) refines the relation head's output with
      the sampler, or an ``energy_decoder`` (TEST.ENERGY_DECODE.ON) re-decodes its relation
      labels under the energy, before post-processing (at most one of the two is set).

    Once :meth:`freeze_detector` is called (done by the builder in relation mode), backbone, RPN
    and box head have ``requires_grad=False``, stay in eval mode whatever ``train()`` says and
    run under ``torch.no_grad()``; their train-time behaviours (train NMS numbers, GT matching
    and GT box appending) still follow the model's ``training`` flag, as in SGB.
    """

    def __init__(self, backbone: nn.Module, rpn: nn.Module, roi_heads: CombinedROIHeads,
                 energy_model: nn.Module | None = None, energy_objective: Any = None,
                 energy_refiner: Any = None, energy_decoder: Any = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads
        self.energy_model = energy_model
        self.energy_objective = energy_objective
        self.energy_refiner = energy_refiner
        self.energy_decoder = energy_decoder
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
            if self.energy_objective is not None:
                return self.energy_objective(self.energy_model, relation_output, targets,
                                             relation_losses)
            return relation_losses
        if self.energy_refiner is not None:
            relation_output = self.energy_refiner(self.energy_model, relation_output)
        if self.energy_decoder is not None:
            relation_output = self.energy_decoder(self.energy_model, relation_output)
        return self.roi_heads.relation.post_process(relation_output)


def build_generalized_rcnn(cfg: CfgNode, statistics: Any = None) -> GeneralizedRCNN:
    """Build from cfg; in relation mode the detector parts are frozen, and with
    MODEL.ENERGY_ON the energy model (state-dict prefix ``energy_model.``) is added."""
    backbone = build_backbone(cfg)
    roi_heads = build_roi_heads(cfg, backbone.out_channels, statistics)
    energy: dict[str, Any] = {}
    if cfg.MODEL.ENERGY_ON:
        if not cfg.MODEL.RELATION_ON:
            raise ValueError("MODEL.ENERGY_ON needs MODEL.RELATION_ON True: the energy loss "
                             "trains a relation head")
        from maskrcnn_benchmark.modeling.energy import (
            build_energy_decoder,
            build_energy_model,
            build_energy_objective,
            build_energy_refiner,
        )

        num_obj = cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES
        num_rel = cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
        feature_dim = roi_heads.relation.box_feature_extractor.out_channels
        energy = {
            "energy_model": build_energy_model(cfg, feature_dim, num_obj, num_rel),
            "energy_objective": build_energy_objective(cfg, num_obj, num_rel, statistics),
            "energy_refiner": build_energy_refiner(cfg, num_obj),
            "energy_decoder": build_energy_decoder(cfg, num_obj),
        }
    elif cfg.TEST.ENERGY_REFINE or cfg.TEST.ENERGY_DECODE.ON:
        key = "TEST.ENERGY_REFINE" if cfg.TEST.ENERGY_REFINE else "TEST.ENERGY_DECODE.ON"
        raise ValueError(f"{key} needs an energy model: set MODEL.ENERGY_ON True "
                         "(and load a checkpoint trained with it)")
    model = GeneralizedRCNN(
        backbone, build_rpn(cfg, backbone.out_channels), roi_heads, **energy
    )
    if cfg.MODEL.RELATION_ON:
        model.freeze_detector()
    if cfg.MODEL.ENERGY_ON and cfg.ENERGY_MODEL.FREEZE:
        if not cfg.ENERGY_MODEL.WEIGHT:
            raise ValueError("ENERGY_MODEL.FREEZE True keeps the energy model as initialised; "
                             "set ENERGY_MODEL.WEIGHT to a pretrained one "
                             "(tools/energy_pretrain_net.py) or leave FREEZE False")
        model.energy_model.requires_grad_(False)
    return model


META_ARCH_REGISTRY.register("GeneralizedRCNN", build_generalized_rcnn)
