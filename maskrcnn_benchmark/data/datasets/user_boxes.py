"""User-given boxes for running PredCls / SGCls models on one's own images.

The boxes file is JSON: image file name -> list of objects, each ``{"box": [x1, y1, x2, y2],
"label": name or class id}`` in the pixels of the upright image (EXIF orientation applied).
PredCls models need a label on every box; SGCls models predict the labels and ignore given
ones. Keys are matched to the input files by their path as listed or by their base name.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from maskrcnn_benchmark.structures.bounding_box import BoxList

__all__ = ["UserBox", "BoxesFileError", "load_boxes_file", "match_boxes_to_files",
           "boxes_to_target"]

_ENTRY_KEYS = {"box", "label"}
# Boxes may touch the far image border; anything further out is a mistake in the file.
_BORDER_TOLERANCE = 1.0


class BoxesFileError(ValueError):
    """The boxes file is malformed; the message names the file, image and box."""


@dataclass(frozen=True)
class UserBox:
    """One object: ``box`` (x1, y1, x2, y2) in upright image pixels and its class id (0 = none)."""

    box: tuple[float, float, float, float]
    label: int


def _label_id(value: object, class_names: Sequence[str], where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BoxesFileError(f"{where}: 'label' must be a class name or an integer class id, "
                             f"got {value!r}")
    if isinstance(value, int):
        if not 1 <= value < len(class_names):
            raise BoxesFileError(f"{where}: class id {value} is outside 1..{len(class_names) - 1}"
                                 " (0 is the background)")
        return value
    if value in class_names[1:]:
        return class_names.index(value)
    close = difflib.get_close_matches(value, class_names[1:], n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise BoxesFileError(f"{where}: unknown class name {value!r} (the model knows "
                         f"{len(class_names) - 1} classes, listed in custom_data_info.json's "
                         f"ind_to_classes).{hint}")


def _parse_box(entry: object, class_names: Sequence[str], need_label: bool,
               where: str) -> UserBox:
    if not isinstance(entry, dict):
        raise BoxesFileError(f"{where} must be an object {{\"box\": [x1, y1, x2, y2], "
                             f"\"label\": ...}}, got {entry!r}")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise BoxesFileError(f"{where} has unknown keys {unknown}; allowed: box, label")
    coords = entry.get("box")
    if (not isinstance(coords, (list, tuple)) or len(coords) != 4 or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) for v in coords)):
        raise BoxesFileError(f"{where}: 'box' must be four numbers [x1, y1, x2, y2], "
                             f"got {coords!r}")
    x1, y1, x2, y2 = (float(v) for v in coords)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise BoxesFileError(f"{where}: 'box' {coords} holds a non-finite number")
    if x2 < x1 or y2 < y1 or x1 < 0 or y1 < 0:
        raise BoxesFileError(f"{where}: 'box' {coords} must satisfy 0 <= x1 <= x2 and "
                             "0 <= y1 <= y2 (corners in pixels: left, top, right, bottom)")
    if "label" in entry:
        label = _label_id(entry["label"], class_names, where)
    elif need_label:
        raise BoxesFileError(f"{where} has no 'label'; a PredCls model needs the class of "
                             "every box")
    else:
        label = 0
    return UserBox((x1, y1, x2, y2), label)


def load_boxes_file(path: str, class_names: Sequence[str],
                    need_labels: bool) -> dict[str, list[UserBox]]:
    """Read and validate a boxes file; returns image key -> boxes (labels as class ids)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Boxes file not found: {path}")
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BoxesFileError(f"Boxes file {path} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise BoxesFileError(f"Boxes file {path} must hold a JSON object mapping image file "
                             "names to lists of boxes")
    boxes: dict[str, list[UserBox]] = {}
    for name, entries in data.items():
        if not isinstance(entries, list) or not entries:
            raise BoxesFileError(f"Boxes file {path}, image {name!r}: expected a non-empty "
                                 "list of boxes")
        boxes[name] = [
            _parse_box(entry, class_names, need_labels, f"Boxes file {path}, image {name!r}, "
                       f"box {i}") for i, entry in enumerate(entries)]
    return boxes


def match_boxes_to_files(boxes: dict[str, list[UserBox]], files: Sequence[str],
                         boxes_path: str) -> tuple[list[list[UserBox]], list[str]]:
    """Boxes of each file (by its listed path, else its base name) and the unused keys.

    A file without boxes, or a base-name key that fits several files, is an error.
    """
    by_path = {os.path.normpath(k): k for k in boxes}
    base_count: dict[str, int] = {}
    for path in files:
        base_count[os.path.basename(path)] = base_count.get(os.path.basename(path), 0) + 1
    matched, used, missing = [], set(), []
    for path in files:
        key = by_path.get(os.path.normpath(path))
        if key is None and os.path.basename(path) in boxes:
            key = os.path.basename(path)
            if base_count[key] > 1:
                raise BoxesFileError(
                    f"Boxes file {boxes_path}: key {key!r} fits {base_count[key]} input files of "
                    "that name; use the paths as listed (e.g. 'folder/name.jpg') as keys")
        if key is None:
            missing.append(path)
            continue
        used.add(key)
        matched.append(boxes[key])
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                          else "")
        raise BoxesFileError(
            f"Boxes file {boxes_path} has no boxes for {len(missing)} of {len(files)} input "
            f"images: {shown}. Add an entry per image (key: its file name) or leave those "
            "images out of the input")
    return matched, sorted(set(boxes) - used)


def boxes_to_target(boxes: Sequence[UserBox], image_size: tuple[int, int],
                    path: str) -> BoxList:
    """The model's target BoxList (``labels``) of ``boxes`` on an image of ``image_size``."""
    width, height = image_size
    for i, user_box in enumerate(boxes):
        x1, y1, x2, y2 = user_box.box
        if x2 > width + _BORDER_TOLERANCE or y2 > height + _BORDER_TOLERANCE:
            raise BoxesFileError(
                f"Box {i} {list(user_box.box)} of {path} reaches outside the image, which is "
                f"{width} x {height} pixels upright (EXIF orientation applied); give boxes in "
                "the upright image's pixels")
    bbox = torch.tensor([b.box for b in boxes], dtype=torch.float32).reshape(-1, 4)
    target = BoxList(bbox, (width, height), "xyxy")
    target.add_field("labels", torch.tensor([b.label for b in boxes], dtype=torch.int64))
    return target.clip_to_image(remove_empty=False)
