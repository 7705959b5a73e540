"""Unlabelled images for prediction: listing, upright RGB loading, a skipping dataset.

``list_images`` turns an image file, a folder, a glob pattern or a JSON list of paths (SGB's
``TEST.CUSTUM_PATH`` form) into a sorted list of files. ``ImageFolderDataset`` loads each file
lazily as an upright RGB image (EXIF orientation applied, greyscale / palette / 16-bit
converted, transparency composited on white); a file that cannot be decoded becomes a
:class:`SkippedImage` instead of an error, so one bad file never stops a run over a folder.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.image_list import ImageList, to_image_list

from .user_boxes import UserBox, boxes_to_target

__all__ = [
    "NoImagesError",
    "list_images",
    "load_upright_rgb",
    "LoadedImage",
    "SkippedImage",
    "ImageBatch",
    "ImageFolderDataset",
    "ImageFolderCollator",
]

_GLOB_CHARS = set("*?[")
# Errors PIL raises for files that are not images, truncated or too large to decode safely.
_DECODE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError,
                  Image.DecompressionBombError)


class NoImagesError(ValueError):
    """The input named no image files at all (empty folder, glob matching nothing, ...)."""


def _expand_one(source: str) -> list[str]:
    if os.path.isdir(source):
        names = sorted(n for n in os.listdir(source) if not n.startswith("."))
        return [os.path.join(source, n) for n in names
                if os.path.isfile(os.path.join(source, n))]
    if os.path.isfile(source):
        if source.lower().endswith(".json"):
            return _json_list(source)
        return [source]
    if _GLOB_CHARS & set(source):
        return sorted(p for p in glob.glob(source, recursive=True) if os.path.isfile(p))
    raise FileNotFoundError(f"Input {source} does not exist (expected an image file, a folder, "
                            "a glob pattern such as 'photos/*.jpg' or a JSON list of paths)")


def _json_list(path: str) -> list[str]:
    try:
        with open(path) as f:
            paths = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"Image list {path} is not valid JSON ({err}); it must hold a JSON list "
                         "of image paths") from None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError(f"Image list {path} must hold a JSON list of image paths (strings)")
    return list(paths)


def list_images(sources: str | Sequence[str]) -> list[str]:
    """Files named by ``sources`` (files, folders, globs, JSON lists), sorted per source.

    Folders are not searched recursively (a glob with ``**`` is) and their hidden files
    (``.name``) are ignored; every other file is listed, whatever its extension (non-images are
    skipped when loaded). A file named twice is listed once. Nothing at all raises
    :class:`NoImagesError`.
    """
    sources = [sources] if isinstance(sources, str) else list(sources)
    if not sources:
        raise NoImagesError("No input given: name an image file, a folder or a glob pattern")
    files: list[str] = []
    seen: set[str] = set()
    for source in sources:
        for path in _expand_one(source):
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                files.append(path)
    if not files:
        raise NoImagesError(f"No files found in {', '.join(sources)}: the folder is empty or "
                            "the pattern matches nothing; point the input at your images")
    return files


def _to_rgb(image: Image.Image) -> Image.Image:
    """Greyscale, palette, CMYK, 16-bit and transparent images -> 8-bit RGB."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max(initial=0.0) > 255 else 255.0
        image = Image.fromarray(np.clip(values / peak * 255.0, 0, 255).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_upright_rgb(path: str) -> Image.Image:
    """Decode ``path`` as an upright (EXIF-oriented) 8-bit RGB image; PIL errors propagate."""
    with Image.open(path) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
        return _to_rgb(upright)


@dataclass
class LoadedImage:
    """One decoded image: its tensor, optional GT-box target and sizes (W, H)."""

    index: int
    path: str
    image: torch.Tensor  # [3, H, W] network input
    target: BoxList | None  # user boxes in the network input frame (PredCls / SGCls)
    image_size: tuple[int, int]  # upright original image
    input_size: tuple[int, int]  # after the test-time resize


@dataclass
class SkippedImage:
    """A listed file that could not be decoded, with the reason."""

    index: int
    path: str
    reason: str


@dataclass
class ImageBatch:
    """What the collator yields: the loaded images (padded) and the files skipped."""

    images: ImageList | None
    targets: list[BoxList] | None
    loaded: list[LoadedImage]
    skipped: list[SkippedImage]


class ImageFolderDataset(torch.utils.data.Dataset):
    """Images without annotations; items are :class:`LoadedImage` or :class:`SkippedImage`.

    Args:
        files: image paths (see :func:`list_images`).
        transforms: the test-time ``(PIL image, BoxList | None) -> (tensor, BoxList | None)``
            (``build_transforms(cfg, is_train=False)``).
        boxes: per file (same order as ``files``) the user's boxes for PredCls / SGCls models,
            in upright image pixels; None for SGDet.
    """

    def __init__(self, files: Sequence[str], transforms: Callable,
                 boxes: Sequence[Sequence[UserBox]] | None = None) -> None:
        if boxes is not None and len(boxes) != len(files):
            raise ValueError(f"boxes has {len(boxes)} entries for {len(files)} files")
        self.files = list(files)
        self.transforms = transforms
        self.boxes = None if boxes is None else [list(b) for b in boxes]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> LoadedImage | SkippedImage:
        path = self.files[index]
        try:
            if os.path.getsize(path) == 0:
                return SkippedImage(index, path, "the file is empty")
            image = load_upright_rgb(path)
        except _DECODE_ERRORS as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            return SkippedImage(index, path, f"not a readable image ({reason})")
        target = None
        if self.boxes is not None:
            target = boxes_to_target(self.boxes[index], image.size, path)
        tensor, target = self.transforms(image, target)
        input_size = (int(tensor.shape[-1]), int(tensor.shape[-2]))
        return LoadedImage(index, path, tensor, target, image.size, input_size)


class ImageFolderCollator:
    """Pad the loaded images of a batch into an ImageList; pass skipped files through."""

    def __init__(self, size_divisible: int = 0) -> None:
        self.size_divisible = size_divisible

    def __call__(self, items: Sequence[LoadedImage | SkippedImage]) -> ImageBatch:
        loaded = [item for item in items if isinstance(item, LoadedImage)]
        skipped = [item for item in items if isinstance(item, SkippedImage)]
        if not loaded:
            return ImageBatch(None, None, [], skipped)
        images = to_image_list([item.image for item in loaded], self.size_divisible)
        targets = None
        if loaded[0].target is not None:
            targets = [item.target for item in loaded]
        for item in loaded:  # the padded batch holds the pixels now
            item.image = torch.empty(0)
        return ImageBatch(images, targets, loaded, skipped)
