"""ResNet building blocks and stems, registered under MODEL.RESNETS.TRANS_FUNC / STEM_FUNC.

Parameter names match maskrcnn-benchmark (``conv1``/``bn1``/.../``downsample.{0,1}``,
``stem.conv1``/``stem.bn1``) so SGB checkpoints load unchanged. The "WithFixedBatchNorm"
variants use FrozenBatchNorm2d (pretrained detectors); the "WithGN" variants use trainable
GroupNorm, for backbones trained from scratch with small batches (the CPU quickstart).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from maskrcnn_benchmark.layers import FrozenBatchNorm2d
from maskrcnn_benchmark.modeling.registry import RESNET_STEM_FUNCS, RESNET_TRANS_FUNCS

__all__ = ["Bottleneck", "BasicBlock", "Stem", "group_norm"]

NormFunc = Callable[[int], nn.Module]


def group_norm(num_channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups, or groups of 8 channels for layers narrower than 256."""
    return nn.GroupNorm(max(1, min(32, num_channels // 8)), num_channels)


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
          dilation: int = 1, groups: int = 1) -> nn.Conv2d:
    conv = nn.Conv2d(
        in_channels, out_channels, kernel_size, stride=stride,
        padding=dilation * (kernel_size - 1) // 2, dilation=dilation, groups=groups, bias=False,
    )
    # Caffe2's XavierFill is kaiming_uniform(a=1) in PyTorch terms.
    nn.init.kaiming_uniform_(conv.weight, a=1)
    return conv


def _downsample(in_channels: int, out_channels: int, stride: int, norm_func: NormFunc):
    conv = _conv(in_channels, out_channels, 1, stride=stride)
    return nn.Sequential(conv, norm_func(out_channels))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (grouped, ResNeXt) -> 1x1 residual block with a projection shortcut."""

    def __init__(
        self,
        in_channels: int,
        bottleneck_channels: int,
        out_channels: int,
        num_groups: int,
        stride_in_1x1: bool,
        stride: int,
        dilation: int,
        norm_func: NormFunc,
    ) -> None:
        super().__init__()
        self.downsample = None
        if in_channels != out_channels:
            self.downsample = _downsample(
                in_channels, out_channels, stride if dilation == 1 else 1, norm_func
            )
        if dilation > 1:
            stride = 1
        # MSRA ResNets stride in the first 1x1 conv; Caffe2 ResNeXt strides in the 3x3 conv.
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = _conv(in_channels, bottleneck_channels, 1, stride=stride_1x1)
        self.bn1 = norm_func(bottleneck_channels)
        self.conv2 = _conv(bottleneck_channels, bottleneck_channels, 3, stride=stride_3x3,
                           dilation=dilation, groups=num_groups)
        self.bn2 = norm_func(bottleneck_channels)
        self.conv3 = _conv(bottleneck_channels, out_channels, 1)
        self.bn3 = norm_func(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block output."""
        out = F.relu_(self.bn1(self.conv1(x)))
        out = F.relu_(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu_(out + identity)


class BasicBlock(nn.Module):
    """Two 3x3 convs (ResNet-18/34 block); the stride sits in the first conv."""

    def __init__(
        self,
        in_channels: int,
        bottleneck_channels: int,
        out_channels: int,
        num_groups: int,
        stride_in_1x1: bool,
        stride: int,
        dilation: int,
        norm_func: NormFunc,
    ) -> None:
        super().__init__()
        if num_groups != 1:
            raise ValueError(
                "BasicBlock has no grouped convolution: set MODEL.RESNETS.NUM_GROUPS to 1 or use "
                "a Bottleneck TRANS_FUNC"
            )
        if dilation > 1:
            stride = 1
        self.downsample = None
        if in_channels != out_channels or stride != 1:
            self.downsample = _downsample(in_channels, out_channels, stride, norm_func)
        self.conv1 = _conv(in_channels, out_channels, 3, stride=stride, dilation=dilation)
        self.bn1 = norm_func(out_channels)
        self.conv2 = _conv(out_channels, out_channels, 3, dilation=dilation)
        self.bn2 = norm_func(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block output."""
        out = F.relu_(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu_(out + identity)


class Stem(nn.Module):
    """7x7 stride-2 conv, norm, ReLU and 3x3 stride-2 max-pool (output stride 4)."""

    def __init__(self, out_channels: int, norm_func: NormFunc) -> None:
        super().__init__()
        self.conv1 = _conv(3, out_channels, 7, stride=2)
        self.bn1 = norm_func(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stem output at 1/4 resolution."""
        x = F.relu_(self.bn1(self.conv1(x)))
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)


def _register_block(name: str, block: type[nn.Module], norm_func: NormFunc) -> None:
    def make(in_channels: int, bottleneck_channels: int, out_channels: int, num_groups: int,
             stride_in_1x1: bool, stride: int, dilation: int) -> nn.Module:
        return block(in_channels, bottleneck_channels, out_channels, num_groups,
                     stride_in_1x1, stride, dilation, norm_func)

    make.__name__ = name
    RESNET_TRANS_FUNCS.register(name, make)


_register_block("BottleneckWithFixedBatchNorm", Bottleneck, FrozenBatchNorm2d)
_register_block("BottleneckWithGN", Bottleneck, group_norm)
_register_block("BasicBlockWithFixedBatchNorm", BasicBlock, FrozenBatchNorm2d)
_register_block("BasicBlockWithGN", BasicBlock, group_norm)
RESNET_STEM_FUNCS.register("StemWithFixedBatchNorm", lambda c: Stem(c, FrozenBatchNorm2d))
RESNET_STEM_FUNCS.register("StemWithGN", lambda c: Stem(c, group_norm))
