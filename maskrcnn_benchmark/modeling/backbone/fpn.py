"""Feature pyramid network on top of a ResNet body (P2..P5, plus P6 by max-pooling P5)."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FPN", "LastLevelMaxPool"]


def _fpn_conv(in_channels: int, out_channels: int, kernel_size: int, use_relu: bool) -> nn.Module:
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2)
    nn.init.kaiming_uniform_(conv.weight, a=1)
    nn.init.constant_(conv.bias, 0)
    # With ReLU the conv sits at index 0 of a Sequential, as in maskrcnn-benchmark's state dicts.
    return nn.Sequential(conv, nn.ReLU(inplace=True)) if use_relu else conv


class LastLevelMaxPool(nn.Module):
    """Extra coarsest level: max-pool (kernel 1, stride 2) of the last FPN output."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One extra feature map at half the resolution of ``x``."""
        return [F.max_pool2d(x, 1, 2, 0)]


class FPN(nn.Module):
    """Top-down pathway with lateral 1x1 convs (``fpn_innerK``) and 3x3 outputs (``fpn_layerK``).

    Args:
        in_channels_list: channels of the body's feature maps, finest first.
        out_channels: width of every pyramid level.
        use_relu: ReLU after every FPN conv (MODEL.FPN.USE_RELU).
        top_block: optional module adding coarser levels from the last output.
    """

    def __init__(
        self,
        in_channels_list: Sequence[int],
        out_channels: int,
        use_relu: bool = False,
        top_block: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.inner_blocks: list[str] = []
        self.layer_blocks: list[str] = []
        for idx, in_channels in enumerate(in_channels_list, 1):
            self.add_module(f"fpn_inner{idx}", _fpn_conv(in_channels, out_channels, 1, use_relu))
            self.add_module(f"fpn_layer{idx}", _fpn_conv(out_channels, out_channels, 3, use_relu))
            self.inner_blocks.append(f"fpn_inner{idx}")
            self.layer_blocks.append(f"fpn_layer{idx}")
        self.top_block = top_block

    def forward(self, x: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Pyramid levels, finest first."""
        last_inner = getattr(self, self.inner_blocks[-1])(x[-1])
        results = [getattr(self, self.layer_blocks[-1])(last_inner)]
        for feature, inner, layer in zip(
            x[:-1][::-1], self.inner_blocks[:-1][::-1], self.layer_blocks[:-1][::-1]
        ):
            lateral = getattr(self, inner)(feature)
            # Upsample to the lateral's size: equal to a x2 nearest upsampling when sizes are
            # divisible by 32 (SGB), and still defined for any other input size.
            top_down = F.interpolate(last_inner, size=lateral.shape[-2:], mode="nearest")
            last_inner = lateral + top_down
            results.insert(0, getattr(self, layer)(last_inner))
        if self.top_block is not None:
            results.extend(self.top_block(results[-1]))
        return results
