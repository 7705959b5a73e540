"""Scene graphs with class names -> the VG150 files (shared by the GQA and custom converters).

A converter parses its source into ``SceneGraphImage``s (names, not ids); this module picks the
vocabularies, maps names to ids, drops what falls outside the vocabularies, and writes the h5,
the dicts json and image_data.json with ``write_vg_files``. Output is deterministic: the same
input always gives byte-identical files.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .vg_format import IMAGE_DIR_NAME, MAX_ATTRIBUTES, VGImageRecord, write_vg_files

__all__ = ["SceneGraphImage", "select_vocabulary", "convert_scene_graphs", "TRAIN", "TEST"]

logger = logging.getLogger(__name__)

TRAIN, TEST = 0, 2  # split flags of the h5 (validation is carved from train by the loader)
# Non-numeric source ids get image_id = this + their position (image ids must be integers).
_SYNTHETIC_ID_BASE = 1_000_000_000


@dataclass
class SceneGraphImage:
    """One image: boxes xyxy in original pixels, object names, relations by object index."""

    key: str  # the source's image id
    file_name: str  # relative to the image folder
    width: int
    height: int
    split: int  # TRAIN or TEST
    boxes: list[Sequence[float]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    attributes: list[list[str]] = field(default_factory=list)
    relations: list[tuple[int, int, str]] = field(default_factory=list)


def select_vocabulary(counts: Counter, top_k: int | None) -> list[str]:
    """The ``top_k`` most frequent names (ties by name; all when None), sorted alphabetically."""
    ranked = sorted(counts, key=lambda name: (-counts[name], name))
    return sorted(ranked if top_k is None else ranked[:top_k])


def _frequency_order(counts: Counter) -> list[str]:
    return sorted(counts, key=lambda name: (-counts[name], name))


def _image_id(image: SceneGraphImage, position: int) -> int:
    return int(image.key) if image.key.isdigit() else _SYNTHETIC_ID_BASE + position


def _record(image: SceneGraphImage, position: int, obj_ids: dict, pred_ids: dict,
            att_ids: dict) -> VGImageRecord:
    keep = [i for i, name in enumerate(image.names) if name in obj_ids]
    new_index = {old: new for new, old in enumerate(keep)}
    relations = [(new_index[s], new_index[o], pred_ids[p]) for s, o, p in image.relations
                 if s in new_index and o in new_index and p in pred_ids]
    attributes = np.zeros((len(keep), MAX_ATTRIBUTES), dtype=np.int64)
    for row, old in enumerate(keep):
        ids = list(dict.fromkeys(att_ids[a] for a in image.attributes[old] if a in att_ids))
        attributes[row, : min(len(ids), MAX_ATTRIBUTES)] = ids[:MAX_ATTRIBUTES]
    image_id = _image_id(image, position)
    extra = {} if image.file_name == f"{image_id}.jpg" else {"file_name": image.file_name}
    return VGImageRecord(
        image_id=image_id, width=image.width, height=image.height,
        boxes=np.asarray([image.boxes[i] for i in keep], dtype=np.float64).reshape(-1, 4),
        labels=np.asarray([obj_ids[image.names[i]] for i in keep], dtype=np.int64),
        relations=np.asarray(relations, dtype=np.int64).reshape(-1, 3),
        split=image.split, attributes=attributes, extra=extra)


def _link_images(out_dir: str, image_dir: str) -> None:
    """Make ``out_dir/VG_100K`` point at ``image_dir`` (the loader's image folder name)."""
    link = os.path.join(out_dir, IMAGE_DIR_NAME)
    target = os.path.abspath(image_dir)
    if not os.path.isdir(target):
        raise FileNotFoundError(f"Image folder not found: {image_dir}")
    if os.path.lexists(link):
        if os.path.realpath(link) != os.path.realpath(target):
            raise FileExistsError(f"{link} already exists and is not {target}; remove it or "
                                  "convert into another folder")
        return
    os.symlink(target, link, target_is_directory=True)


def convert_scene_graphs(
    images: Iterable[SceneGraphImage],
    out_dir: str,
    num_objects: int | None = None,
    num_predicates: int | None = None,
    image_dir: str | None = None,
) -> dict:
    """Write the VG150 files for ``images`` into ``out_dir``; return a summary.

    Vocabularies: the ``num_objects`` / ``num_predicates`` most frequent names (all when None),
    in alphabetical order as in VG150; attributes: all, by frequency. Objects outside the
    vocabulary are dropped with their relations; relations with other predicates are dropped.
    ``image_dir`` (optional) is linked as ``out_dir/VG_100K``.
    """
    images = list(images)
    obj_counts = Counter(name for im in images for name in im.names)
    pred_counts = Counter(p for im in images for _, _, p in im.relations)
    att_counts = Counter(a for im in images for atts in im.attributes for a in set(atts))
    obj_classes = select_vocabulary(obj_counts, num_objects)
    predicates = select_vocabulary(pred_counts, num_predicates)
    attributes = _frequency_order(att_counts)
    obj_ids = {name: i + 1 for i, name in enumerate(obj_classes)}
    pred_ids = {name: i + 1 for i, name in enumerate(predicates)}
    att_ids = {name: i + 1 for i, name in enumerate(attributes)}
    records = [_record(im, pos, obj_ids, pred_ids, att_ids) for pos, im in enumerate(images)]
    paths = write_vg_files(out_dir, records, obj_classes, predicates, attributes)
    if image_dir is not None:
        _link_images(out_dir, image_dir)
    summary = {
        "paths": paths,
        "num_object_classes": len(obj_classes) + 1,
        "num_predicate_classes": len(predicates) + 1,
        "num_attribute_classes": len(attributes) + 1,
        "train_images": sum(r.split == TRAIN for r in records),
        "test_images": sum(r.split == TEST for r in records),
        "objects": sum(len(r.labels) for r in records),
        "relations": sum(len(r.relations) for r in records),
    }
    logger.info("Wrote %s: %d object / %d predicate classes (with background), %d train and "
                "%d test images", out_dir, summary["num_object_classes"],
                summary["num_predicate_classes"], summary["train_images"],
                summary["test_images"])
    return summary
