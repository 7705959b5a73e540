"""RoIAlign with maskrcnn-benchmark's legacy sampling (torchvision ``aligned=False``)."""

import torch
from torch import nn
from torchvision.ops import roi_align as _tv_roi_align

__all__ = ["roi_align", "ROIAlign"]


def roi_align(
    features: torch.Tensor,
    rois: torch.Tensor,
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
) -> torch.Tensor:
    """Pool ``rois`` [K, 5] (batch index, x1, y1, x2, y2) from ``features`` -> [K, C, h, w]."""
    return _tv_roi_align(
        features, rois, output_size, spatial_scale, sampling_ratio, aligned=False
    )


class ROIAlign(nn.Module):
    """Module form of :func:`roi_align` for one feature level."""

    def __init__(self, output_size: tuple[int, int], spatial_scale: float, sampling_ratio: int):
        super().__init__()
        self.output_size = tuple(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)

    def forward(self, features: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """Pool ``rois`` [K, 5] from ``features`` [B, C, H, W]."""
        return roi_align(
            features, rois, self.output_size, self.spatial_scale, self.sampling_ratio
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}"
        )
