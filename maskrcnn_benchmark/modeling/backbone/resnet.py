"""ResNet / ResNeXt body: a stem and up to four stages (``layer1`` .. ``layer4``).

Stage ``k`` (1-based) has ``RES2_OUT_CHANNELS * 2^(k-1)`` output channels and a bottleneck width
of ``NUM_GROUPS * WIDTH_PER_GROUP * 2^(k-1)``; X-101-32x8d is the R-101 layout with 32 groups of
width 8. Each stage but the first halves the resolution in its first block.
"""

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from maskrcnn_benchmark.modeling.registry import RESNET_STEM_FUNCS, RESNET_TRANS_FUNCS

__all__ = ["StageSpec", "STAGE_SPECS", "ResNet"]


class StageSpec(NamedTuple):
    """One ResNet stage: index (1 = res2), residual blocks, whether its output is returned."""

    index: int
    block_count: int
    return_features: bool


def _specs(counts: Sequence[int], returned: Sequence[bool]) -> tuple[StageSpec, ...]:
    return tuple(StageSpec(i + 1, c, r) for i, (c, r) in enumerate(zip(counts, returned)))


_FPN = (True, True, True, True)
_C4 = (False, False, True)
# Stage layouts per MODEL.BACKBONE.CONV_BODY (the FPN bodies return all four stages).
STAGE_SPECS: dict[str, tuple[StageSpec, ...]] = {
    "R-18-FPN": _specs((2, 2, 2, 2), _FPN),
    "R-50-C4": _specs((3, 4, 6), _C4),
    "R-101-C4": _specs((3, 4, 23), _C4),
    "R-50-FPN": _specs((3, 4, 6, 3), _FPN),
    "R-101-FPN": _specs((3, 4, 23, 3), _FPN),
    "R-152-FPN": _specs((3, 8, 36, 3), _FPN),
}


class ResNet(nn.Module):
    """ResNet body returning the feature maps of the stages marked ``return_features``.

    Args:
        stage_specs: the stages to build (see ``STAGE_SPECS``).
        stem_func, trans_func: registry names in RESNET_STEM_FUNCS / RESNET_TRANS_FUNCS.
        num_groups, width_per_group: bottleneck width of res2 is their product.
        stem_out_channels, res2_out_channels: channel widths of the stem and of res2.
        stride_in_1x1: put the stride in the 1x1 conv (MSRA) instead of the 3x3 conv.
        res5_dilation: dilation of ``layer4`` (1 or 2; with 2 it keeps the stride of ``layer3``).
        freeze_at: stem (1) and stages up to this index get ``requires_grad=False``.
    """

    def __init__(
        self,
        stage_specs: Sequence[StageSpec],
        stem_func: str,
        trans_func: str,
        num_groups: int,
        width_per_group: int,
        stem_out_channels: int,
        res2_out_channels: int,
        stride_in_1x1: bool,
        res5_dilation: int,
        freeze_at: int,
    ) -> None:
        super().__init__()
        if res5_dilation not in (1, 2):
            raise ValueError(f"MODEL.RESNETS.RES5_DILATION must be 1 or 2, got {res5_dilation}")
        make_block = RESNET_TRANS_FUNCS.get(trans_func)
        self.stem = RESNET_STEM_FUNCS.get(stem_func)(stem_out_channels)
        in_channels = stem_out_channels
        self.stages: list[str] = []
        self.return_features: dict[str, bool] = {}
        for spec in stage_specs:
            factor = 2 ** (spec.index - 1)
            out_channels = res2_out_channels * factor
            dilation = res5_dilation if spec.index == 4 else 1
            stride = 2 if spec.index > 1 else 1
            blocks = []
            for _ in range(spec.block_count):
                blocks.append(make_block(in_channels, num_groups * width_per_group * factor,
                                         out_channels, num_groups, stride_in_1x1, stride,
                                         dilation))
                stride, in_channels = 1, out_channels
            name = f"layer{spec.index}"
            self.add_module(name, nn.Sequential(*blocks))
            self.stages.append(name)
            self.return_features[name] = spec.return_features
        self._freeze(freeze_at)

    def _freeze(self, freeze_at: int) -> None:
        for stage_index in range(max(freeze_at, 0)):
            module = self.stem if stage_index == 0 else getattr(self, f"layer{stage_index}")
            for param in module.parameters():
                param.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of the returned stages, finest first."""
        outputs = []
        x = self.stem(x)
        for name in self.stages:
            x = getattr(self, name)(x)
            if self.return_features[name]:
                outputs.append(x)
        return outputs
