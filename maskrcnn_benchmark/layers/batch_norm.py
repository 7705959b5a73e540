"""FrozenBatchNorm2d: batch norm with fixed statistics and affine parameters (SGB buffers)."""

import torch
from torch import nn

__all__ = ["FrozenBatchNorm2d"]


class FrozenBatchNorm2d(nn.Module):
    """``y = (x - running_mean) / sqrt(running_var) * weight + bias`` with all four as buffers.

    The buffers (no ``num_batches_tracked``, no epsilon) match maskrcnn-benchmark, whose
    converted ImageNet weights fold the epsilon into ``running_var``. Nothing here is trained,
    and train and eval mode compute the same thing.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the fixed per-channel affine transform (in the input's dtype)."""
        scale = self.weight * self.running_var.rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.to(x.dtype).view(1, -1, 1, 1) + shift.to(x.dtype).view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}"
