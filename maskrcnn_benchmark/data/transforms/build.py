"""build_transforms: the train / test image pipeline from cfg.INPUT."""

from __future__ import annotations

from .transforms import ColorJitter, Compose, Normalize, RandomVerticalFlip, Resize, ToTensor

__all__ = ["build_transforms"]


def build_transforms(cfg, is_train: bool = True) -> Compose:
    """Colour jitter (train), resize, vertical flip (train), to tensor, normalise.

    The left-right flip is not here: ``VGDataset(flip_aug=MODEL.FLIP_AUG)`` flips the image
    with its ground truth, so each training image is flipped at most once.
    """
    steps = []
    jitter = (cfg.INPUT.BRIGHTNESS, cfg.INPUT.CONTRAST, cfg.INPUT.SATURATION, cfg.INPUT.HUE)
    if is_train and any(value > 0 for value in jitter):
        steps.append(ColorJitter(*jitter))
    if is_train:
        steps.append(Resize(cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN))
        if cfg.INPUT.VERTICAL_FLIP_PROB_TRAIN > 0:
            steps.append(RandomVerticalFlip(cfg.INPUT.VERTICAL_FLIP_PROB_TRAIN))
    else:
        steps.append(Resize(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST))
    steps.append(ToTensor())
    steps.append(Normalize(cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD, cfg.INPUT.TO_BGR255))
    return Compose(steps)
