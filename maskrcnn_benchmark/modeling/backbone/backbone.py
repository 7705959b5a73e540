"""Backbones registered in BACKBONES by MODEL.BACKBONE.CONV_BODY: ResNet(-FPN) and VGG-16.

A backbone is an ``nn.Sequential`` named ``body`` (+ ``fpn``) with an ``out_channels``
attribute; it maps an image batch [B, 3, H, W] to a list of feature maps, finest first.
"""

from collections import OrderedDict

from torch import nn

from maskrcnn_benchmark.config import CfgNode
from maskrcnn_benchmark.modeling.registry import BACKBONES

from . import resnet_blocks  # noqa: F401  (registers the ResNet blocks and stems)
from .fpn import FPN, LastLevelMaxPool
from .resnet import STAGE_SPECS, ResNet
from .vgg import VGG16

__all__ = ["build_backbone", "build_resnet_body"]


def build_resnet_body(cfg: CfgNode) -> ResNet:
    """The ResNet/ResNeXt body selected by MODEL.BACKBONE.CONV_BODY and MODEL.RESNETS."""
    resnets = cfg.MODEL.RESNETS
    return ResNet(
        stage_specs=STAGE_SPECS[cfg.MODEL.BACKBONE.CONV_BODY],
        stem_func=resnets.STEM_FUNC,
        trans_func=resnets.TRANS_FUNC,
        num_groups=resnets.NUM_GROUPS,
        width_per_group=resnets.WIDTH_PER_GROUP,
        stem_out_channels=resnets.STEM_OUT_CHANNELS,
        res2_out_channels=resnets.RES2_OUT_CHANNELS,
        stride_in_1x1=resnets.STRIDE_IN_1X1,
        res5_dilation=resnets.RES5_DILATION,
        freeze_at=cfg.MODEL.BACKBONE.FREEZE_CONV_BODY_AT,
    )


def _with_out_channels(modules: "OrderedDict[str, nn.Module]", out_channels: int) -> nn.Sequential:
    model = nn.Sequential(modules)
    model.out_channels = out_channels
    return model


def build_resnet_c4_backbone(cfg: CfgNode) -> nn.Sequential:
    """ResNet body up to res4 (stride 16), no FPN."""
    body = build_resnet_body(cfg)
    return _with_out_channels(OrderedDict(body=body), cfg.MODEL.RESNETS.BACKBONE_OUT_CHANNELS)


def build_resnet_fpn_backbone(cfg: CfgNode) -> nn.Sequential:
    """ResNet body + FPN: levels P2..P6 with BACKBONE_OUT_CHANNELS channels each."""
    body = build_resnet_body(cfg)
    res2 = cfg.MODEL.RESNETS.RES2_OUT_CHANNELS
    out_channels = cfg.MODEL.RESNETS.BACKBONE_OUT_CHANNELS
    fpn = FPN(
        in_channels_list=[res2, res2 * 2, res2 * 4, res2 * 8],
        out_channels=out_channels,
        use_relu=cfg.MODEL.FPN.USE_RELU,
        top_block=LastLevelMaxPool(),
    )
    return _with_out_channels(OrderedDict(body=body, fpn=fpn), out_channels)


def build_vgg16_backbone(cfg: CfgNode) -> nn.Sequential:
    """VGG-16 conv body (stride 16), no FPN."""
    body = VGG16()
    if body.out_channels != cfg.MODEL.VGG.VGG16_OUT_CHANNELS:
        raise ValueError(
            f"MODEL.VGG.VGG16_OUT_CHANNELS is {cfg.MODEL.VGG.VGG16_OUT_CHANNELS} but VGG-16's "
            f"conv5_3 has {body.out_channels} channels"
        )
    return _with_out_channels(OrderedDict(body=body), body.out_channels)


for _name in ("R-50-C4", "R-101-C4"):
    BACKBONES.register(_name, build_resnet_c4_backbone)
for _name in ("R-18-FPN", "R-50-FPN", "R-101-FPN", "R-152-FPN"):
    BACKBONES.register(_name, build_resnet_fpn_backbone)
BACKBONES.register("VGG-16", build_vgg16_backbone)


def build_backbone(cfg: CfgNode) -> nn.Sequential:
    """Build the backbone named by MODEL.BACKBONE.CONV_BODY."""
    return BACKBONES.get(cfg.MODEL.BACKBONE.CONV_BODY)(cfg)
