"""Backbones: ResNet/ResNeXt bodies with optional FPN, and VGG-16."""

from .backbone import build_backbone

__all__ = ["build_backbone"]
