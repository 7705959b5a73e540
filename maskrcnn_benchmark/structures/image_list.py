"""ImageList: a batch of differently sized images padded into one tensor."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["ImageList", "to_image_list"]


class ImageList:
    """Padded images ``tensors`` [B, C, H, W] and each image's true ``image_sizes`` as (H, W)."""

    def __init__(self, tensors: torch.Tensor, image_sizes: list[tuple[int, int]]) -> None:
        self.tensors = tensors
        self.image_sizes = [(int(h), int(w)) for h, w in image_sizes]

    def to(self, device: Any, non_blocking: bool = False) -> ImageList:
        """Move the padded tensor to ``device``."""
        return ImageList(self.tensors.to(device, non_blocking=non_blocking), self.image_sizes)

    def __len__(self) -> int:
        return len(self.image_sizes)


def to_image_list(
    tensors: torch.Tensor | ImageList | Sequence[torch.Tensor], size_divisible: int = 0
) -> ImageList:
    """Pad a list of [C, H, W] tensors (bottom/right, zeros) to a common, divisible size."""
    if isinstance(tensors, ImageList):
        return tensors
    if isinstance(tensors, torch.Tensor) and tensors.dim() == 4:
        return ImageList(tensors, [tuple(tensors.shape[-2:])] * tensors.shape[0])
    if isinstance(tensors, torch.Tensor) and tensors.dim() == 3:
        tensors = [tensors]
    if len(tensors) == 0:
        raise ValueError("to_image_list needs at least one image")
    max_c = max(t.shape[0] for t in tensors)
    max_h = max(t.shape[1] for t in tensors)
    max_w = max(t.shape[2] for t in tensors)
    if size_divisible > 0:
        max_h = int(math.ceil(max_h / size_divisible) * size_divisible)
        max_w = int(math.ceil(max_w / size_divisible) * size_divisible)
    batched = tensors[0].new_zeros((len(tensors), max_c, max_h, max_w))
    for img, pad in zip(tensors, batched):
        pad[: img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
    return ImageList(batched, [tuple(t.shape[-2:]) for t in tensors])
