"""Backbones: output levels and strides, ResNeXt stride placement, freezing, norms, errors."""

from pathlib import Path

import pytest
import torch
from torch import nn

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.layers import FrozenBatchNorm2d
from maskrcnn_benchmark.modeling.backbone import build_backbone
from maskrcnn_benchmark.modeling.backbone.resnet_blocks import group_norm

DATA = Path(__file__).parent / "data"
CONFIG_DATA = Path(__file__).resolve().parents[1] / "config" / "data"


def _tiny_cfg():
    cfg = get_cfg()
    cfg.merge_from_file(str(DATA / "tiny_detector.yaml"))
    return cfg


def test_r18_fpn_returns_five_levels_at_strides_4_to_64():
    cfg = _tiny_cfg()
    backbone = build_backbone(cfg)
    features = backbone(torch.randn(2, 3, 64, 96))
    assert backbone.out_channels == 16
    assert [tuple(f.shape) for f in features] == [
        (2, 16, 16, 24), (2, 16, 8, 12), (2, 16, 4, 6), (2, 16, 2, 3), (2, 16, 1, 2)
    ]


def test_fpn_accepts_sizes_not_divisible_by_32():
    features = build_backbone(_tiny_cfg())(torch.randn(1, 3, 70, 90))
    assert [tuple(f.shape[-2:]) for f in features] == [(18, 23), (9, 12), (5, 6), (3, 3), (2, 2)]


def _meta_x101():
    cfg = get_cfg()
    cfg.merge_from_file(str(CONFIG_DATA / "sgb_e2e_relation_detector_X_101_32_8_FPN_1x.yaml"))
    with torch.device("meta"):
        return build_backbone(cfg), cfg


def test_resnext_strides_in_the_grouped_3x3_conv():
    backbone, _ = _meta_x101()
    block = backbone.body.layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    assert block.conv2.groups == 32 and tuple(block.conv2.weight.shape) == (512, 16, 3, 3)
    assert isinstance(block.bn2, FrozenBatchNorm2d)


def test_msra_resnet_strides_in_the_first_1x1_conv():
    cfg = get_cfg()
    cfg.MODEL.BACKBONE.CONV_BODY = "R-50-FPN"
    with torch.device("meta"):
        block = build_backbone(cfg).body.layer3[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)


def test_freeze_conv_body_at_two_freezes_stem_and_res2_only():
    backbone, cfg = _meta_x101()
    assert cfg.MODEL.BACKBONE.FREEZE_CONV_BODY_AT == 2
    body = backbone.body
    assert not any(p.requires_grad for p in body.stem.parameters())
    assert not any(p.requires_grad for p in body.layer1.parameters())
    assert all(p.requires_grad for p in body.layer2.parameters())
    assert all(p.requires_grad for p in backbone.fpn.parameters())


def test_frozen_batch_norm_matches_batch_norm_in_eval_without_epsilon():
    frozen, reference = FrozenBatchNorm2d(4), nn.BatchNorm2d(4, eps=0.0).eval()
    stats = {"weight": torch.rand(4) + 0.5, "bias": torch.randn(4),
             "running_mean": torch.randn(4), "running_var": torch.rand(4) + 0.5}
    frozen.load_state_dict(stats)
    reference.load_state_dict(stats, strict=False)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(frozen(x), reference(x))
    assert frozen(x.bfloat16()).dtype == torch.bfloat16
    assert set(frozen.state_dict()) == set(stats)


def test_group_norm_uses_32_groups_or_groups_of_eight_channels():
    assert [group_norm(c).num_groups for c in (8, 32, 64, 256, 512)] == [1, 4, 8, 32, 32]


def test_res5_dilation_keeps_the_resolution_of_res4():
    cfg = _tiny_cfg()
    cfg.MODEL.RESNETS.RES5_DILATION = 2
    body = build_backbone(cfg).body
    outputs = body(torch.randn(1, 3, 64, 64))
    assert outputs[2].shape[-2:] == outputs[3].shape[-2:] == (4, 4)
    assert body.layer4[0].conv1.dilation == (2, 2)


def test_res5_dilation_other_than_one_or_two_is_an_error():
    cfg = _tiny_cfg()
    cfg.MODEL.RESNETS.RES5_DILATION = 3
    with pytest.raises(ValueError, match="RES5_DILATION"):
        build_backbone(cfg)


def test_vgg16_body_has_stride_16_and_512_channels():
    cfg = get_cfg()
    cfg.merge_from_file(str(DATA / "sgb_e2e_relation_detector_VGG16_1x.yaml"))
    backbone = build_backbone(cfg)
    (feature,) = backbone(torch.randn(1, 3, 64, 96))
    assert backbone.out_channels == 512 and feature.shape == (1, 512, 4, 6)


def test_basic_block_rejects_grouped_convolutions():
    cfg = _tiny_cfg()
    cfg.MODEL.RESNETS.NUM_GROUPS = 32
    with pytest.raises(ValueError, match="MODEL.RESNETS.NUM_GROUPS"):
        build_backbone(cfg)


def test_unknown_conv_body_lists_the_registered_ones():
    cfg = _tiny_cfg()
    cfg.MODEL.BACKBONE.CONV_BODY = "R-18-FPNN"
    with pytest.raises(KeyError, match="R-18-FPN"):
        build_backbone(cfg)
