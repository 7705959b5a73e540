"""Writer of the VG150 file format (the files every SGG codebase reads).

One data set is four artifacts in a folder:

- ``VG-SGG-with-attri.h5``: per image ``split`` (0 train, 2 test), inclusive object and relation
  row ranges (``img_to_first_box`` / ``img_to_last_box`` / ``img_to_first_rel`` /
  ``img_to_last_rel``, -1 when empty); per object ``labels`` [N, 1], ``boxes_1024`` and
  ``boxes_512`` [N, 4] as integer (cx, cy, w, h) in a frame whose longer image side is 1024
  (512), ``attributes`` [N, 10]; per relation ``relationships`` [R, 2] (global object rows) and
  ``predicates`` [R, 1].
- ``VG-SGG-dicts-with-attri.json``: ``label_to_idx`` / ``idx_to_label``, ``predicate_to_idx`` /
  ``idx_to_predicate``, ``attribute_to_idx`` / ``idx_to_attribute`` (1-based, string keys in the
  ``idx_to_*`` maps) and ``object_count`` / ``predicate_count`` / ``attribute_count``.
- ``image_data.json``: a list aligned with the h5 image rows of ``{image_id, width, height}``
  plus the record's ``extra`` fields (e.g. ``file_name`` when it is not ``{image_id}.jpg``).
- an image folder holding ``{image_id}.jpg`` (or each entry's ``file_name``).

The synthetic benchmark, the GQA converter and the tests all write through ``write_vg_files``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Sequence

import h5py
import numpy as np

__all__ = ["VGImageRecord", "write_vg_files", "H5_NAME", "DICTS_NAME", "IMAGE_DATA_NAME",
           "IMAGE_DIR_NAME", "BOX_SCALE"]

H5_NAME = "VG-SGG-with-attri.h5"
DICTS_NAME = "VG-SGG-dicts-with-attri.json"
IMAGE_DATA_NAME = "image_data.json"
IMAGE_DIR_NAME = "VG_100K"
BOX_SCALE = 1024
MAX_ATTRIBUTES = 10


@dataclass
class VGImageRecord:
    """One image: original-pixel xyxy boxes, 1-based labels, relations (sub, obj, predicate)."""

    image_id: int
    width: int
    height: int
    boxes: np.ndarray  # [N, 4] float xyxy in original pixels
    labels: np.ndarray  # [N] int, 1..num_classes
    relations: np.ndarray  # [R, 3] int: subject index, object index (per image), predicate 1..
    split: int = 0  # 0 = train (val is carved from it), 2 = test
    attributes: np.ndarray | None = None  # [N, <=10] int, 0-padded
    # JSON fields added to this image's image_data.json entry, e.g. {"file_name": "n1.jpg"}.
    extra: dict = field(default_factory=dict)


def _encode_boxes(boxes: np.ndarray, width: int, height: int, scale: int) -> np.ndarray:
    """xyxy original pixels -> integer (cx, cy, w, h) at ``scale`` (the VG150 encoding)."""
    factor = scale / max(width, height)
    b = np.asarray(boxes, dtype=np.float64) * factor
    w = np.maximum(b[:, 2] - b[:, 0], 1.0)
    h = np.maximum(b[:, 3] - b[:, 1], 1.0)
    cx = b[:, 0] + w / 2.0
    cy = b[:, 1] + h / 2.0
    enc = np.stack([cx, cy, w, h], axis=1)
    enc = np.round(enc).astype(np.int32)
    enc[:, 2:] = np.maximum(enc[:, 2:], 1)
    enc[:, :2] = np.maximum(enc[:, :2], 0)
    return enc


def write_vg_files(
    out_dir: str,
    records: Sequence[VGImageRecord],
    obj_classes: Sequence[str],
    predicates: Sequence[str],
    attributes: Sequence[str] = (),
) -> dict[str, str]:
    """Write the h5, dicts json and image_data json for ``records``; return the file paths.

    ``obj_classes`` / ``predicates`` / ``attributes`` are the names of ids 1.. (no background).
    Images themselves are written by the caller into ``out_dir/VG_100K/{image_id}.jpg``.
    """
    os.makedirs(out_dir, exist_ok=True)
    split, first_box, last_box, first_rel, last_rel = [], [], [], [], []
    labels, boxes_1024, boxes_512, attrs, rel_pairs, rel_preds = [], [], [], [], [], []
    n_obj = n_rel = 0
    obj_count = np.zeros(len(obj_classes) + 1, dtype=np.int64)
    pred_count = np.zeros(len(predicates) + 1, dtype=np.int64)
    att_count = np.zeros(len(attributes) + 1, dtype=np.int64)
    for rec in records:
        n = len(rec.labels)
        split.append(rec.split)
        first_box.append(n_obj if n else -1)
        last_box.append(n_obj + n - 1 if n else -1)
        if n:
            labels.append(np.asarray(rec.labels, dtype=np.int64).reshape(-1, 1))
            boxes_1024.append(_encode_boxes(rec.boxes, rec.width, rec.height, 1024))
            boxes_512.append(_encode_boxes(rec.boxes, rec.width, rec.height, 512))
            a = np.zeros((n, MAX_ATTRIBUTES), dtype=np.int64)
            if rec.attributes is not None and len(rec.attributes):
                src = np.asarray(rec.attributes, dtype=np.int64)[:, :MAX_ATTRIBUTES]
                a[:, : src.shape[1]] = src
            attrs.append(a)
            np.add.at(obj_count, np.asarray(rec.labels, dtype=np.int64), 1)
            np.add.at(att_count, a[a > 0], 1)
        rels = np.asarray(rec.relations, dtype=np.int64).reshape(-1, 3)
        r = len(rels)
        first_rel.append(n_rel if r else -1)
        last_rel.append(n_rel + r - 1 if r else -1)
        if r:
            if rels[:, :2].max() >= n or rels[:, :2].min() < 0:
                raise ValueError(f"image {rec.image_id}: relation object index out of range")
            rel_pairs.append(rels[:, :2] + n_obj)
            rel_preds.append(rels[:, 2:3])
            np.add.at(pred_count, rels[:, 2], 1)
        n_obj += n
        n_rel += r

    def _cat(chunks: list, cols: int, dtype: type) -> np.ndarray:
        return np.concatenate(chunks, 0).astype(dtype) if chunks else np.zeros((0, cols), dtype)

    h5_path = os.path.join(out_dir, H5_NAME)
    with h5py.File(h5_path, "w") as h5:
        h5["split"] = np.asarray(split, dtype=np.int64)
        h5["img_to_first_box"] = np.asarray(first_box, dtype=np.int64)
        h5["img_to_last_box"] = np.asarray(last_box, dtype=np.int64)
        h5["img_to_first_rel"] = np.asarray(first_rel, dtype=np.int64)
        h5["img_to_last_rel"] = np.asarray(last_rel, dtype=np.int64)
        h5["labels"] = _cat(labels, 1, np.int64)
        h5["boxes_1024"] = _cat(boxes_1024, 4, np.int32)
        h5["boxes_512"] = _cat(boxes_512, 4, np.int32)
        h5["attributes"] = _cat(attrs, MAX_ATTRIBUTES, np.int64)
        h5["relationships"] = _cat(rel_pairs, 2, np.int64)
        h5["predicates"] = _cat(rel_preds, 1, np.int64)

    def _maps(names: Sequence[str], counts: np.ndarray) -> tuple[dict, dict, dict]:
        to_idx = {name: i + 1 for i, name in enumerate(names)}
        to_name = {str(i + 1): name for i, name in enumerate(names)}
        count = {name: int(counts[i + 1]) for i, name in enumerate(names)}
        return to_idx, to_name, count

    l2i, i2l, oc = _maps(obj_classes, obj_count)
    p2i, i2p, pc = _maps(predicates, pred_count)
    a2i, i2a, ac = _maps(attributes, att_count)
    dicts = {
        "label_to_idx": l2i, "idx_to_label": i2l, "object_count": oc,
        "predicate_to_idx": p2i, "idx_to_predicate": i2p, "predicate_count": pc,
        "attribute_to_idx": a2i, "idx_to_attribute": i2a, "attribute_count": ac,
    }
    dicts_path = os.path.join(out_dir, DICTS_NAME)
    with open(dicts_path, "w") as f:
        json.dump(dicts, f)
    image_data_path = os.path.join(out_dir, IMAGE_DATA_NAME)
    with open(image_data_path, "w") as f:
        json.dump([{**r.extra, "image_id": int(r.image_id), "width": int(r.width),
                    "height": int(r.height)} for r in records], f)
    return {"h5": h5_path, "dicts": dicts_path, "image_data": image_data_path,
            "img_dir": os.path.join(out_dir, IMAGE_DIR_NAME)}
