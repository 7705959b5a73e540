"""A user's own scene graphs in a minimal JSON format -> the VG150 files.

Format (see docs/DATA.md)::

    {"images": [
      {"file_name": "0001.jpg", "width": 640, "height": 480, "split": "train",
       "objects": [{"name": "man", "box": [x1, y1, x2, y2], "attributes": ["tall"]}, ...],
       "relations": [{"subject": 0, "object": 1, "predicate": "riding"}, ...]},
      ...]}

``split`` is "train" or "test" (validation is carved from train by the loader); ``box`` is in
original pixels; ``attributes`` and ``image_id`` (an integer) are optional. Every name becomes
a class (alphabetical ids, as VG150), unless ``num_objects`` / ``num_predicates`` keep only the
most frequent ones.
"""

from __future__ import annotations

import json
import os

from .scene_graph_convert import TEST, TRAIN, SceneGraphImage, convert_scene_graphs

__all__ = ["load_custom_scene_graphs", "convert_custom"]

_SPLITS = {"train": TRAIN, "test": TEST}


def _require(entry: dict, key: str, where: str) -> object:
    if not isinstance(entry, dict) or key not in entry:
        raise ValueError(f"{where} has no '{key}' (see docs/DATA.md for the custom format)")
    return entry[key]


def _parse_image(position: int, entry: dict, source: str) -> SceneGraphImage:
    where = f"{source}: images[{position}]"
    split = _require(entry, "split", where)
    if split not in _SPLITS:
        raise ValueError(f"{where}: split must be 'train' or 'test', got {split!r}")
    key = str(entry.get("image_id", position))
    if not key.isdigit():
        raise ValueError(f"{where}: image_id must be a non-negative integer, got {key!r}")
    image = SceneGraphImage(key=key, file_name=str(_require(entry, "file_name", where)),
                            width=int(_require(entry, "width", where)),
                            height=int(_require(entry, "height", where)), split=_SPLITS[split])
    objects = _require(entry, "objects", where)
    for i, obj in enumerate(objects):
        box = [float(v) for v in _require(obj, "box", f"{where}.objects[{i}]")]
        if len(box) != 4 or box[2] < box[0] or box[3] < box[1]:
            raise ValueError(f"{where}.objects[{i}]: box must be [x1, y1, x2, y2] with "
                             f"x2 >= x1 and y2 >= y1, got {box}")
        image.boxes.append(box)
        image.names.append(str(_require(obj, "name", f"{where}.objects[{i}]")).strip())
        image.attributes.append([str(a).strip() for a in obj.get("attributes", [])])
    for j, rel in enumerate(entry.get("relations", [])):
        at = f"{where}.relations[{j}]"
        sub, obj = int(_require(rel, "subject", at)), int(_require(rel, "object", at))
        if not (0 <= sub < len(objects) and 0 <= obj < len(objects)):
            raise ValueError(f"{at}: subject {sub} / object {obj} must index the image's "
                             f"{len(objects)} objects")
        image.relations.append((sub, obj, str(_require(rel, "predicate", at)).strip()))
    return image


def load_custom_scene_graphs(path: str) -> list[SceneGraphImage]:
    """Parse a custom scene-graph JSON file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Scene-graph file not found: {path}")
    with open(path) as f:
        try:
            content = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
    images = _require(content, "images", path)
    parsed = [_parse_image(i, entry, path) for i, entry in enumerate(images)]
    keys = [im.key for im in parsed]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{path}: image_id values must be unique")
    return parsed


def convert_custom(path: str, out_dir: str, image_dir: str | None = None,
                   num_objects: int | None = None, num_predicates: int | None = None) -> dict:
    """Convert a custom scene-graph JSON file into VG150 files in ``out_dir``."""
    return convert_scene_graphs(load_custom_scene_graphs(path), out_dir,
                                num_objects=num_objects, num_predicates=num_predicates,
                                image_dir=image_dir)
