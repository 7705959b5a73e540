"""BatchCollator: a list of dataset items -> (ImageList, targets, indices)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.image_list import ImageList, to_image_list

__all__ = ["BatchCollator"]


class BatchCollator:
    """Pad images to a multiple of ``size_divisible``; keep targets and indices as tuples."""

    def __init__(self, size_divisible: int = 0) -> None:
        self.size_divisible = size_divisible

    def __call__(
        self, batch: Sequence[tuple[torch.Tensor, BoxList, int]]
    ) -> tuple[ImageList, tuple[BoxList, ...], tuple[int, ...]]:
        images, targets, indices = zip(*batch)
        return to_image_list(list(images), self.size_divisible), tuple(targets), tuple(indices)
