"""Recurrent dropout masks shared by the Motifs decoder and the VCTree tree LSTMs."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["draw_dropout_mask"]


def draw_dropout_mask(prob: float, num_images: int, width: int, device: torch.device) -> Tensor:
    """One inverted-dropout mask per image, reused at every step / node of that image (SGB)."""
    keep = torch.rand((num_images, width), device=device) > prob
    return keep.float() / (1.0 - prob)
