"""Reading VG150 files back into ``VGImageRecord``s (the inverse of ``write_vg_files``).

The oracle check and the dataset card read what was written, not what the generator holds in
memory. The extra fields of ``image_data.json`` (scene kind, true predicates, context rules)
come back in ``extra``. Boxes are decoded as VG150 loaders do: (cx, cy, w, h) at the 1024 scale ->
x1 = cx - w / 2, x2 = x1 + w, then scaled to the image's original size (kept as floats here).
"""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

from ..vg_format import BOX_SCALE, DICTS_NAME, H5_NAME, IMAGE_DATA_NAME, VGImageRecord
from ..vg_h5 import load_info

__all__ = ["read_vg_records", "read_vocabulary"]

_H5_KEYS = ("split", "img_to_first_box", "img_to_last_box", "img_to_first_rel",
            "img_to_last_rel", "labels", "boxes_1024", "attributes", "relationships",
            "predicates")


def _require(path: str) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing; generate the data set first with "
            "`python tools/make_synthetic_vg.py --preset small --out <dir>`")
    return path


def read_vocabulary(data_dir: str) -> tuple[list[str], list[str]]:
    """Object class and predicate names (ids 1.., no background) from the dicts json."""
    classes, predicates, _ = load_info(_require(os.path.join(data_dir, DICTS_NAME)))
    return classes[1:], predicates[1:]


def read_vg_records(data_dir: str) -> list[VGImageRecord]:
    """Every image of a VG150 folder with float xyxy boxes in original pixels."""
    with open(_require(os.path.join(data_dir, IMAGE_DATA_NAME))) as f:
        infos = json.load(f)
    h5_path = _require(os.path.join(data_dir, H5_NAME))
    try:
        with h5py.File(h5_path, "r") as h5:
            arrays = {k: h5[k][()] for k in _H5_KEYS}
    except (OSError, KeyError) as err:
        raise ValueError(f"{h5_path} cannot be read as a VG150 h5 ({err}); regenerate the "
                         "data set") from None
    if len(infos) != len(arrays["split"]):
        raise ValueError(f"{data_dir}: {IMAGE_DATA_NAME} has {len(infos)} images but {H5_NAME} "
                         f"has {len(arrays['split'])}; regenerate the data set")
    records = []
    for i, info in enumerate(infos):
        b0, b1 = arrays["img_to_first_box"][i], arrays["img_to_last_box"][i]
        r0, r1 = arrays["img_to_first_rel"][i], arrays["img_to_last_rel"][i]
        box_rows = slice(b0, b1 + 1) if b0 >= 0 else slice(0, 0)
        enc = arrays["boxes_1024"][box_rows].astype(np.float64)
        x1 = enc[:, 0] - enc[:, 2] / 2
        y1 = enc[:, 1] - enc[:, 3] / 2
        scale = max(info["width"], info["height"]) / BOX_SCALE
        boxes = np.stack([x1, y1, x1 + enc[:, 2], y1 + enc[:, 3]], axis=1) * scale
        if r0 >= 0:
            pairs = arrays["relationships"][r0: r1 + 1] - b0
            rels = np.concatenate([pairs, arrays["predicates"][r0: r1 + 1]], axis=1)
        else:
            rels = np.zeros((0, 3), dtype=np.int64)
        records.append(VGImageRecord(
            image_id=int(info["image_id"]), width=int(info["width"]),
            height=int(info["height"]), boxes=boxes,
            labels=arrays["labels"][box_rows, 0].astype(np.int64),
            relations=rels.astype(np.int64), split=int(arrays["split"][i]),
            attributes=arrays["attributes"][box_rows],
            extra={k: v for k, v in info.items() if k not in ("image_id", "width", "height")}))
    return records
