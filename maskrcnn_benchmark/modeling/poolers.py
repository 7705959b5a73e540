"""RoI pooling over one or several FPN levels (RoIAlign, FPN level assignment of SGB)."""

import math
from collections.abc import Sequence

import torch
from torch import nn

from maskrcnn_benchmark.layers import ROIAlign
from maskrcnn_benchmark.structures.bounding_box import BoxList

from .utils import cat

__all__ = ["LevelMapper", "Pooler", "convert_to_roi_format"]


class LevelMapper:
    """FPN level of each box by Eq. 1 of the FPN paper, clamped to the pooled levels.

    ``level = floor(canonical_level + log2(sqrt(area) / canonical_scale + eps))`` with the +1
    pixel area; returned as an index into the pooled levels (0 = finest).
    """

    def __init__(
        self,
        k_min: int,
        k_max: int,
        canonical_scale: int = 224,
        canonical_level: int = 4,
        eps: float = 1e-6,
    ) -> None:
        self.k_min = k_min
        self.k_max = k_max
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level
        self.eps = eps

    def __call__(self, boxlists: Sequence[BoxList]) -> torch.Tensor:
        """Level index [K] of every box of ``boxlists`` (concatenated in order)."""
        sizes = torch.sqrt(cat([boxlist.area() for boxlist in boxlists]))
        levels = torch.floor(
            self.canonical_level + torch.log2(sizes / self.canonical_scale + self.eps)
        )
        levels = torch.clamp(levels, min=self.k_min, max=self.k_max)
        return levels.to(torch.int64) - self.k_min


def convert_to_roi_format(boxes: Sequence[BoxList]) -> torch.Tensor:
    """Stack the boxes of several images as RoIs [K, 5]: (image index, x1, y1, x2, y2)."""
    concat_boxes = cat([b.convert("xyxy").bbox for b in boxes], dim=0)
    ids = cat(
        [
            torch.full((len(b), 1), i, dtype=concat_boxes.dtype, device=concat_boxes.device)
            for i, b in enumerate(boxes)
        ],
        dim=0,
    )
    return torch.cat([ids, concat_boxes], dim=1)


class Pooler(nn.Module):
    """RoIAlign each box from its FPN level (or from every level, concatenated).

    Args:
        output_size: (h, w) of the pooled map.
        scales: 1 / stride of each pooled level, finest first (e.g. 1/4 .. 1/32). With one
            scale (VGG-16, C4 bodies) every box is pooled from that level.
        sampling_ratio: RoIAlign sampling points per bin side (0 = adaptive).
        in_channels: channels of one level; needed only with ``cat_all_levels``.
        cat_all_levels: pool every box from every level, concatenate along channels and reduce
            back to ``in_channels`` with a 3x3 conv + ReLU (``reduce_channel``), as SGB's union
            feature extractor does.
    """

    def __init__(
        self,
        output_size: tuple[int, int],
        scales: Sequence[float],
        sampling_ratio: int,
        in_channels: int | None = None,
        cat_all_levels: bool = False,
    ) -> None:
        super().__init__()
        self.poolers = nn.ModuleList(
            ROIAlign(output_size, spatial_scale=scale, sampling_ratio=sampling_ratio)
            for scale in scales
        )
        self.output_size = tuple(output_size)
        self.cat_all_levels = cat_all_levels
        # Levels are log2 of the strides: each level halves the resolution.
        self.map_levels = LevelMapper(
            round(-math.log2(scales[0])), round(-math.log2(scales[-1]))
        )
        if cat_all_levels:
            if in_channels is None:
                raise ValueError("Pooler(cat_all_levels=True) needs in_channels")
            conv = nn.Conv2d(in_channels * len(scales), in_channels, 3, padding=1)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(conv.bias, 0)
            self.reduce_channel = nn.Sequential(conv, nn.ReLU(inplace=True))

    def forward(self, features: Sequence[torch.Tensor], boxes: Sequence[BoxList]) -> torch.Tensor:
        """Pool ``boxes`` (one BoxList per image) from ``features`` -> [K, C, h, w]."""
        rois = convert_to_roi_format(boxes)
        if len(self.poolers) == 1:
            return self.poolers[0](features[0], rois)
        if self.cat_all_levels:
            pooled = [pooler(f, rois).to(f.dtype) for f, pooler in zip(features, self.poolers)]
            return self.reduce_channel(torch.cat(pooled, dim=1))

        levels = self.map_levels(boxes)
        num_channels = features[0].shape[1]
        result = features[0].new_zeros((rois.shape[0], num_channels, *self.output_size))
        for level, (per_level_features, pooler) in enumerate(zip(features, self.poolers)):
            idx_in_level = torch.nonzero(levels == level).squeeze(1)
            if idx_in_level.numel() > 0:
                pooled = pooler(per_level_features, rois[idx_in_level])
                result[idx_in_level] = pooled.to(result.dtype)
        return result
