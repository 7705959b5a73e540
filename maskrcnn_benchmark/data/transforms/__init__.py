"""Joint image and ground-truth transforms."""

from .build import build_transforms
from .transforms import ColorJitter, Compose, Normalize, RandomVerticalFlip, Resize, ToTensor

__all__ = ["build_transforms", "Compose", "Resize", "RandomVerticalFlip", "ColorJitter",
           "ToTensor", "Normalize"]
