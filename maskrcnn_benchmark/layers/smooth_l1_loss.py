"""Smooth L1 loss with the ``beta`` transition point used by maskrcnn-benchmark."""

import torch

__all__ = ["smooth_l1_loss"]


def smooth_l1_loss(
    input: torch.Tensor, target: torch.Tensor, beta: float = 1.0 / 9, size_average: bool = True
) -> torch.Tensor:
    """``0.5 d^2 / beta`` for ``|d| < beta``, else ``|d| - 0.5 beta``; mean or sum."""
    diff = torch.abs(input - target)
    loss = torch.where(diff < beta, 0.5 * diff**2 / beta, diff - 0.5 * beta)
    return loss.mean() if size_average else loss.sum()
