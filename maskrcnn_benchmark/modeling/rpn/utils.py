"""Reshaping of RPN head outputs into per-anchor rows, in the anchors' (row, column, A) order."""

from collections.abc import Sequence

import torch

from maskrcnn_benchmark.modeling.utils import cat

__all__ = ["permute_and_flatten", "concat_box_prediction_layers"]


def permute_and_flatten(
    layer: torch.Tensor, N: int, A: int, C: int, H: int, W: int
) -> torch.Tensor:
    """[N, A * C, H, W] -> [N, H * W * A, C]."""
    layer = layer.view(N, -1, C, H, W).permute(0, 3, 4, 1, 2)
    return layer.reshape(N, -1, C)


def concat_box_prediction_layers(
    box_cls: Sequence[torch.Tensor], box_regression: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten all levels: objectness [N * sum(HWA), C] and deltas [N * sum(HWA), 4]."""
    flat_cls, flat_reg = [], []
    for cls_per_level, reg_per_level in zip(box_cls, box_regression):
        N, AxC, H, W = cls_per_level.shape
        A = reg_per_level.shape[1] // 4
        C = AxC // A
        flat_cls.append(permute_and_flatten(cls_per_level, N, A, C, H, W))
        flat_reg.append(permute_and_flatten(reg_per_level, N, A, 4, H, W))
    return cat(flat_cls, dim=1).reshape(-1, C), cat(flat_reg, dim=1).reshape(-1, 4)
