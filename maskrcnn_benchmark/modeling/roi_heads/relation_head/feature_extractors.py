"""Union-box features of subject-object pairs: pooled visual features plus a spatial-mask branch
(SGB's RelationFeatureExtractor, registered in ROI_RELATION_FEATURE_EXTRACTORS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from maskrcnn_benchmark.modeling.registry import ROI_RELATION_FEATURE_EXTRACTORS
from maskrcnn_benchmark.modeling.roi_heads.box_head.roi_box_feature_extractors import (
    make_roi_box_feature_extractor,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.boxlist_ops import boxlist_union

__all__ = ["RelationFeatureExtractor", "pair_rect_masks", "unordered_pairs"]


def pair_rect_masks(proposal: BoxList, pair_idxs: Tensor, rect_size: int) -> Tensor:
    """[P, 2, S, S] binary maps of the subject and object boxes of each pair.

    The image is rescaled to S x S (S = ``rect_size``) and a box covers the cells from the floor
    of its top-left to the ceil of its bottom-right corner, inclusive (SGB).
    """
    boxes = proposal.convert("xyxy").bbox
    width, height = proposal.size
    scale = boxes.new_tensor([rect_size / width, rect_size / height] * 2)
    pair_boxes = boxes[pair_idxs.reshape(-1)].reshape(-1, 2, 4) * scale  # [P, 2, 4]
    low = pair_boxes[..., :2].floor().long()
    high = pair_boxes[..., 2:].ceil().long()
    grid = torch.arange(rect_size, device=boxes.device)
    inside_x = (grid >= low[..., 0, None]) & (grid <= high[..., 0, None])  # [P, 2, S]
    inside_y = (grid >= low[..., 1, None]) & (grid <= high[..., 1, None])
    return (inside_y[..., :, None] & inside_x[..., None, :]).float()


def unordered_pairs(pair_idxs: Tensor) -> tuple[Tensor, Tensor]:
    """(one ordered pair per unordered pair [U, 2], index [P] of each input pair among them).

    The union box of (i, j) is the union box of (j, i), so its pooled features are computed once
    per unordered pair and gathered back: SGDet tests score every ordered pair, half the pooling.
    """
    low = torch.minimum(pair_idxs[:, 0], pair_idxs[:, 1])
    high = torch.maximum(pair_idxs[:, 0], pair_idxs[:, 1])
    keys, inverse = torch.unique(torch.stack([low, high], dim=1), dim=0, return_inverse=True)
    return keys, inverse


class RelationFeatureExtractor(nn.Module):
    """Union-box features of every pair: ``feature_extractor.pooler`` pools the union box (all
    FPN levels concatenated and reduced when ``pool_all_levels``; once per unordered pair, as
    the union is symmetric), ``rect_conv`` encodes the two
    box masks to the same [C, r, r] map, their sum goes through ``feature_extractor``'s fc6/fc7.

    Args:
        feature_extractor: an FPN2MLP box feature extractor (``pooler``, ``fc6``, ``fc7``,
            ``forward_without_pool``); loaded from the detector's box head by load_mapping.
        in_channels: channels of one feature level.
        resolution: pooled size r (the rect masks are 4r - 1 cells wide).
        separate_spatial: CAUSAL.SEPARATE_SPATIAL: return ``(visual, spatial)`` instead of the
            sum, with visual = fc6/fc7 of the pooled union box alone and spatial =
            ``spatial_fc`` (two fc + ReLU layers) of the flattened mask map (the causal head).
    """

    def __init__(self, feature_extractor: nn.Module, in_channels: int, resolution: int,
                 separate_spatial: bool = False) -> None:
        super().__init__()
        self.feature_extractor = feature_extractor
        self.out_channels = feature_extractor.out_channels
        self.rect_size = resolution * 4 - 1
        self.separate_spatial = separate_spatial
        if separate_spatial:
            out_dim = self.out_channels
            self.spatial_fc = nn.Sequential(
                _kaiming_fc(in_channels * resolution**2, out_dim // 2), nn.ReLU(),
                _kaiming_fc(out_dim // 2, out_dim), nn.ReLU())
        self.rect_conv = nn.Sequential(
            nn.Conv2d(2, in_channels // 2, kernel_size=7, stride=2, padding=3),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(in_channels // 2, momentum=0.01),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            nn.Conv2d(in_channels // 2, in_channels, kernel_size=3, stride=1, padding=1),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(in_channels, momentum=0.01),
        )

    @classmethod
    def from_config(cls, cfg: Any, in_channels: int) -> RelationFeatureExtractor:
        """Build from MODEL.ROI_BOX_HEAD and ROI_RELATION_HEAD.POOLING_ALL_LEVELS."""
        head = cfg.MODEL.ROI_RELATION_HEAD
        if head.CAUSAL.SEPARATE_SPATIAL and head.PREDICTOR != "CausalAnalysisPredictor":
            raise ValueError("MODEL.ROI_RELATION_HEAD.CAUSAL.SEPARATE_SPATIAL True only works "
                             f"with CausalAnalysisPredictor, not {head.PREDICTOR}; set it False")
        extractor = make_roi_box_feature_extractor(
            cfg, in_channels, cat_all_levels=head.POOLING_ALL_LEVELS)
        return cls(extractor, in_channels, cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION,
                   separate_spatial=head.CAUSAL.SEPARATE_SPATIAL)

    def forward(
        self, features: Sequence[Tensor], proposals: Sequence[BoxList],
        rel_pair_idxs: Sequence[Tensor],
    ) -> Tensor | tuple[Tensor, Tensor]:
        """[sum P_i, out_channels] features of the union box of every pair (a pair of such
        tensors, visual and spatial, with ``separate_spatial``)."""
        if sum(len(p) for p in rel_pair_idxs) == 0:
            empty = features[0].new_zeros((0, self.out_channels))
            return (empty, empty.clone()) if self.separate_spatial else empty
        unions, rects, gather, offset = [], [], [], 0
        for proposal, pairs in zip(proposals, rel_pair_idxs):
            boxes = BoxList(proposal.convert("xyxy").bbox, proposal.size)  # no fields to copy
            keys, inverse = unordered_pairs(pairs)
            unions.append(boxlist_union(boxes[keys[:, 0]], boxes[keys[:, 1]]))
            gather.append(inverse + offset)
            offset += len(keys)
            rects.append(pair_rect_masks(proposal, pairs, self.rect_size))
        rect_features = self.rect_conv(torch.cat(rects, dim=0).to(features[0].dtype))
        # Pool each union box once ((i, j) and (j, i) share it), then one row per ordered pair.
        visual = self.feature_extractor.pooler(features, unions)[torch.cat(gather)]
        if self.separate_spatial:
            return (self.feature_extractor.forward_without_pool(visual),
                    self.spatial_fc(rect_features.flatten(1)))
        return self.feature_extractor.forward_without_pool(visual + rect_features)


def _kaiming_fc(dim_in: int, dim_out: int) -> nn.Linear:
    """SGB's make_fc: kaiming-uniform (a=1) weight, zero bias."""
    layer = nn.Linear(dim_in, dim_out)
    nn.init.kaiming_uniform_(layer.weight, a=1)
    nn.init.constant_(layer.bias, 0.0)
    return layer


ROI_RELATION_FEATURE_EXTRACTORS.register(
    "RelationFeatureExtractor", RelationFeatureExtractor.from_config)
