"""RoI box feature extractors, registered in ROI_BOX_FEATURE_EXTRACTORS."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maskrcnn_benchmark.config import CfgNode
from maskrcnn_benchmark.modeling.poolers import Pooler
from maskrcnn_benchmark.modeling.registry import ROI_BOX_FEATURE_EXTRACTORS
from maskrcnn_benchmark.structures.bounding_box import BoxList

__all__ = ["FPN2MLPFeatureExtractor", "make_fc", "make_roi_box_feature_extractor"]


def make_fc(dim_in: int, dim_out: int) -> nn.Linear:
    """Linear layer with Caffe2's XavierFill (kaiming_uniform, a=1) and zero bias."""
    fc = nn.Linear(dim_in, dim_out)
    nn.init.kaiming_uniform_(fc.weight, a=1)
    nn.init.constant_(fc.bias, 0)
    return fc


class FPN2MLPFeatureExtractor(nn.Module):
    """RoIAlign (``pooler``) + two fully connected layers with ReLU (``fc6``, ``fc7``).

    Args:
        in_channels: channels of each feature level.
        resolution: pooled size (``resolution x resolution``).
        scales: 1 / stride of the pooled levels, finest first.
        sampling_ratio: RoIAlign sampling ratio.
        representation_size: width of fc6 and fc7 (``out_channels``).
        cat_all_levels: pool from all levels and reduce (see :class:`Pooler`); SGB's union
            feature extractor uses this.
    """

    def __init__(
        self,
        in_channels: int,
        resolution: int,
        scales: Sequence[float],
        sampling_ratio: int,
        representation_size: int,
        cat_all_levels: bool = False,
    ) -> None:
        super().__init__()
        self.pooler = Pooler(
            output_size=(resolution, resolution),
            scales=scales,
            sampling_ratio=sampling_ratio,
            in_channels=in_channels,
            cat_all_levels=cat_all_levels,
        )
        self.fc6 = make_fc(in_channels * resolution**2, representation_size)
        self.fc7 = make_fc(representation_size, representation_size)
        self.out_channels = representation_size

    @classmethod
    def from_config(
        cls, cfg: CfgNode, in_channels: int, cat_all_levels: bool = False
    ) -> "FPN2MLPFeatureExtractor":
        """Build from MODEL.ROI_BOX_HEAD (POOLER_*, MLP_HEAD_DIM)."""
        head = cfg.MODEL.ROI_BOX_HEAD
        return cls(
            in_channels=in_channels,
            resolution=head.POOLER_RESOLUTION,
            scales=head.POOLER_SCALES,
            sampling_ratio=head.POOLER_SAMPLING_RATIO,
            representation_size=head.MLP_HEAD_DIM,
            cat_all_levels=cat_all_levels,
        )

    def forward(self, features: Sequence[torch.Tensor], proposals: Sequence[BoxList]):
        """Features [K, out_channels] of the boxes of ``proposals`` (concatenated)."""
        return self.forward_without_pool(self.pooler(features, proposals))

    def forward_without_pool(self, pooled: torch.Tensor) -> torch.Tensor:
        """fc6 + fc7 on already pooled maps [K, C, r, r] -> [K, out_channels]."""
        x = pooled.flatten(start_dim=1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


ROI_BOX_FEATURE_EXTRACTORS.register("FPN2MLPFeatureExtractor", FPN2MLPFeatureExtractor.from_config)


def make_roi_box_feature_extractor(
    cfg: CfgNode, in_channels: int, cat_all_levels: bool = False
) -> nn.Module:
    """The extractor named by MODEL.ROI_BOX_HEAD.FEATURE_EXTRACTOR."""
    builder = ROI_BOX_FEATURE_EXTRACTORS.get(cfg.MODEL.ROI_BOX_HEAD.FEATURE_EXTRACTOR)
    return builder(cfg, in_channels, cat_all_levels=cat_all_levels)
