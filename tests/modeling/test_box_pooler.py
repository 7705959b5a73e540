"""Pooler: FPN level assignment, legacy RoIAlign sampling, per-level routing, all-level concat."""

import torch

from maskrcnn_benchmark.layers import roi_align
from maskrcnn_benchmark.modeling.poolers import LevelMapper, Pooler
from maskrcnn_benchmark.structures.bounding_box import BoxList


def _square(size: float) -> list[float]:
    return [0.0, 0.0, size - 1, size - 1]  # side `size` with the +1 convention


def test_level_mapper_follows_the_fpn_equation_and_clamps():
    sides = (16, 111, 112, 224, 448, 2000)
    boxes = BoxList(torch.tensor([_square(s) for s in sides]), (3000, 3000))
    levels = LevelMapper(2, 5)([boxes])
    # floor(4 + log2(s / 224)): 16 -> 0 (clamped to 2), 111 -> 2, 112 -> 3, 224 -> 4, 448 -> 5
    assert levels.tolist() == [0, 0, 1, 2, 3, 3]


def test_roi_align_uses_the_legacy_unaligned_sampling():
    ramp = torch.arange(32, dtype=torch.float32).repeat(32, 1)[None, None]  # value = x
    rois = torch.tensor([[0.0, 4.0, 0.0, 12.0, 8.0]])
    pooled = roi_align(ramp, rois, (1, 1), spatial_scale=1.0, sampling_ratio=1)
    # legacy RoIAlign samples the bin centre x1 + (x2 - x1) / 2 = 8 (aligned=True would give 7.5)
    assert pooled.item() == 8.0


def test_each_box_is_pooled_from_its_own_level():
    pooler = Pooler((2, 2), scales=(1 / 4, 1 / 8, 1 / 16, 1 / 32), sampling_ratio=2)
    features = [torch.full((1, 3, 512 // s, 512 // s), float(i)) for i, s in
                enumerate((4, 8, 16, 32))]
    boxes = BoxList(torch.tensor([_square(s) for s in (40, 120, 230, 460)]), (512, 512))
    pooled = pooler(features, [boxes])
    assert pooled.shape == (4, 3, 2, 2)
    assert pooled.mean(dim=(1, 2, 3)).tolist() == [0.0, 1.0, 2.0, 3.0]


def test_boxes_of_several_images_use_their_own_feature_maps():
    pooler = Pooler((1, 1), scales=(1.0,), sampling_ratio=1)
    features = [torch.stack([torch.full((1, 8, 8), 1.0), torch.full((1, 8, 8), 2.0)])]
    first = BoxList(torch.tensor([[0.0, 0.0, 3.0, 3.0]]), (8, 8))
    second = BoxList(torch.tensor([[1.0, 1.0, 4.0, 4.0], [2.0, 2.0, 6.0, 6.0]]), (8, 8))
    assert pooler(features, [first, second]).flatten().tolist() == [1.0, 2.0, 2.0]


def test_cat_all_levels_pools_every_level_and_reduces_channels():
    pooler = Pooler((3, 3), scales=(1 / 4, 1 / 8), sampling_ratio=2, in_channels=5,
                    cat_all_levels=True)
    assert tuple(pooler.reduce_channel[0].weight.shape) == (5, 10, 3, 3)
    features = [torch.randn(1, 5, 16, 16), torch.randn(1, 5, 8, 8)]
    boxes = BoxList(torch.tensor([_square(20), _square(60)]), (64, 64))
    assert pooler(features, [boxes]).shape == (2, 5, 3, 3)


def test_pooler_handles_no_boxes():
    pooler = Pooler((2, 2), scales=(1 / 4, 1 / 8), sampling_ratio=2)
    features = [torch.randn(1, 4, 16, 16), torch.randn(1, 4, 8, 8)]
    assert pooler(features, [BoxList(torch.zeros(0, 4), (64, 64))]).shape == (0, 4, 2, 2)
