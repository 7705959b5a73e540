"""Tiny hand-made VG150 data sets for the data-pipeline tests (written with write_vg_files)."""

import os

import numpy as np
from PIL import Image

from maskrcnn_benchmark.data.datasets.vg_format import (
    IMAGE_DIR_NAME,
    VGImageRecord,
    write_vg_files,
)

OBJ_CLASSES = ["cat", "dog", "tree"]
PREDICATES = ["on", "near", "has"]
ATTRIBUTES = ["red", "big"]
# Images are 64 x 32, so boxes at the 1024 scale are 16 x the original pixels (exact encoding).
WIDTH, HEIGHT = 64, 32


def _rec(image_id, boxes, labels, rels, split=0):
    return VGImageRecord(image_id=image_id, width=WIDTH, height=HEIGHT,
                         boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
                         labels=np.asarray(labels), relations=np.asarray(rels).reshape(-1, 3),
                         split=split)


def filter_records():
    """The filter example (row: h5 image row; 'disjoint' = the relation's boxes do not overlap).

    row 0, id 10, train: disjoint relation
    row 1, id 11, train: boxes, no relation
    row 2, id 12, train: no boxes
    row 3, id 13, train: touching boxes (x2 of one == x1 of the other), one relation
    row 4, id 14, train: disjoint relation
    row 5, id 15, train: 3 boxes; (0,1) overlap with predicates 1 and 3, (0,2) disjoint
    row 6, id 16, test : disjoint relation
    row 7, id 17, split flag 1 (never selected)
    """
    return [
        _rec(10, [[0, 0, 4, 4], [10, 10, 14, 14]], [1, 2], [[0, 1, 1]]),
        _rec(11, [[0, 0, 4, 4], [2, 2, 6, 6]], [1, 2], []),
        _rec(12, [], [], []),
        _rec(13, [[0, 0, 4, 4], [4, 0, 8, 4]], [2, 3], [[0, 1, 2]]),
        _rec(14, [[0, 0, 4, 4], [20, 20, 24, 24]], [1, 1], [[1, 0, 3]]),
        _rec(15, [[0, 0, 8, 8], [4, 4, 12, 12], [40, 20, 44, 24]], [1, 2, 3],
             [[0, 1, 1], [0, 2, 2], [0, 1, 3]]),
        _rec(16, [[0, 0, 4, 4], [10, 10, 14, 14]], [3, 1], [[0, 1, 2]], split=2),
        _rec(17, [[0, 0, 4, 4], [0, 0, 4, 4]], [1, 1], [[0, 1, 1]], split=1),
    ]


def write_images(folder, records, fmt="JPEG"):
    """Solid-colour images named {image_id}.jpg (or the record's file_name)."""
    os.makedirs(os.path.join(folder, IMAGE_DIR_NAME), exist_ok=True)
    for rec in records:
        name = rec.extra.get("file_name", f"{rec.image_id}.jpg")
        Image.new("RGB", (rec.width, rec.height), (rec.image_id % 256, 80, 160)).save(
            os.path.join(folder, IMAGE_DIR_NAME, name), format=fmt)


def write_dataset(folder, records, with_images=True):
    """Write the VG files (and images) of ``records`` into ``folder``; return the paths."""
    paths = write_vg_files(str(folder), records, OBJ_CLASSES, PREDICATES, ATTRIBUTES)
    if with_images:
        write_images(str(folder), records)
    return paths


def dataset_kwargs(paths, **overrides):
    """VGDataset keyword arguments for the written files."""
    kwargs = dict(img_dir=paths["img_dir"], roidb_file=paths["h5"], dict_file=paths["dicts"],
                  image_file=paths["image_data"])
    kwargs.update(overrides)
    return kwargs

