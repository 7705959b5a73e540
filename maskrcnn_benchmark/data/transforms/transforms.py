"""Joint image + BoxList transforms (PIL image in, normalised tensor out)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
import torchvision
from PIL import Image
from torchvision.transforms import functional as F

from maskrcnn_benchmark.structures.bounding_box import FLIP_TOP_BOTTOM, BoxList

__all__ = ["Compose", "Resize", "RandomVerticalFlip", "ColorJitter",
           "ToTensor", "Normalize"]


class Compose:
    """Apply transforms in order to ``(image, target)``."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image, target: BoxList | None = None):
        for transform in self.transforms:
            image, target = transform(image, target)
        return image, target

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class Resize:
    """Shorter side to a random choice of ``min_size``, longer side capped at ``max_size``."""

    def __init__(self, min_size: int | Sequence[int], max_size: int) -> None:
        self.min_size = tuple(min_size) if isinstance(min_size, (list, tuple)) else (min_size,)
        self.max_size = max_size

    def get_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """Output (height, width) for an image of (width, height), with SGB's rounding."""
        w, h = image_size
        size = random.choice(self.min_size)
        short, long = float(min(w, h)), float(max(w, h))
        if long / short * size > self.max_size:
            size = int(round(self.max_size * short / long))
        if (w <= h and w == size) or (h <= w and h == size):
            return h, w
        if w < h:
            return int(size * h / w), size
        return size, int(size * w / h)

    def __call__(self, image: Image.Image, target: BoxList | None = None):
        height, width = self.get_size(image.size)
        image = F.resize(image, [height, width])
        if target is not None:
            target = target.resize(image.size)
        return image, target

    def __repr__(self) -> str:
        return f"Resize(min_size={self.min_size}, max_size={self.max_size})"


class RandomVerticalFlip:
    """Flip image and boxes top-bottom with probability ``prob``."""

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def __call__(self, image: Image.Image, target: BoxList | None = None):
        if random.random() < self.prob:
            image = F.vflip(image)
            if target is not None:
                target = target.transpose(FLIP_TOP_BOTTOM)
        return image, target

    def __repr__(self) -> str:
        return f"RandomVerticalFlip(prob={self.prob})"


class ColorJitter:
    """torchvision's ColorJitter on the image; boxes are unchanged."""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0) -> None:
        self.color_jitter = torchvision.transforms.ColorJitter(
            brightness=brightness, contrast=contrast, saturation=saturation, hue=hue)

    def __call__(self, image: Image.Image, target: BoxList | None = None):
        return self.color_jitter(image), target

    def __repr__(self) -> str:
        return repr(self.color_jitter)


class ToTensor:
    """PIL image -> float tensor [3, H, W] in [0, 1] (RGB)."""

    def __call__(self, image: Image.Image, target: BoxList | None = None):
        return F.to_tensor(image), target

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """Subtract ``mean`` and divide by ``std``; ``to_bgr255`` first converts to BGR in 0-255.

    BGR 0-255 is the Caffe2 convention of the pretrained maskrcnn-benchmark detectors.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], to_bgr255: bool = True):
        self.mean, self.std, self.to_bgr255 = list(mean), list(std), to_bgr255

    def __call__(self, image: torch.Tensor, target: BoxList | None = None):
        if self.to_bgr255:
            image = image[[2, 1, 0]] * 255
        return F.normalize(image, mean=self.mean, std=self.std), target

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std}, to_bgr255={self.to_bgr255})"
