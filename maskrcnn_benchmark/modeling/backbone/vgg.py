"""VGG-16 conv body (conv1_1 .. conv5_3 without the last max-pool; stride 16, 512 channels)."""

import torch
from torch import nn

__all__ = ["VGG16"]

# torchvision's VGG-16 ("D") layout; "M" is a 2x2 max-pool. The fifth pool is left out.
_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


class VGG16(nn.Module):
    """VGG-16 ``features`` minus the last max-pool, randomly initialised.

    Layers sit at torchvision's indices (``conv_body.0`` = conv1_1, ``conv_body.28`` =
    conv5_3) as in SGB, so its checkpoints load; weights come from a checkpoint (nothing is
    downloaded).
    """

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for item in _LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            conv = nn.Conv2d(in_channels, item, kernel_size=3, padding=1)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(conv.bias, 0)
            layers += [conv, nn.ReLU(inplace=True)]
            in_channels = item
        self.conv_body = nn.Sequential(*layers)
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The conv5_3 feature map, as a one-level list."""
        return [self.conv_body(x)]
