"""Entry point that builds the whole model named by MODEL.META_ARCHITECTURE."""

from typing import Any

from torch import nn

from maskrcnn_benchmark.config import CfgNode
from maskrcnn_benchmark.modeling.registry import META_ARCH_REGISTRY

from . import generalized_rcnn  # noqa: F401  (registers GeneralizedRCNN)

__all__ = ["build_detection_model", "freeze_detector"]


def build_detection_model(cfg: CfgNode, statistics: Any = None) -> nn.Module:
    """Build the model; ``statistics`` (dataset statistics) is passed to the relation head."""
    return META_ARCH_REGISTRY.get(cfg.MODEL.META_ARCHITECTURE)(cfg, statistics)


def freeze_detector(model: nn.Module) -> nn.Module:
    """Freeze the detector parts of ``model`` (unwrapping DDP); see GeneralizedRCNN."""
    return getattr(model, "module", model).freeze_detector()
