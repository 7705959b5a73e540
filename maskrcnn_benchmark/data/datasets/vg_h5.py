"""Reading the VG150 files: class names, image_data.json alignment and the graphs of a split.

Everything here works without the images, so the dataset statistics and the converters' checks
can use it on a machine that only holds the h5 and json files.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import h5py
import numpy as np

__all__ = [
    "VGFormatError",
    "SplitGraphs",
    "load_info",
    "load_image_info",
    "load_split_graphs",
    "decode_boxes",
    "relation_pairs_overlap",
    "SPLITS",
    "CORRUPTED_VG_IMAGE_IDS",
    "REQUIRED_H5_FIELDS",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
# Images of the original Visual Genome release that image_data.json lists but the h5 does not.
CORRUPTED_VG_IMAGE_IDS = frozenset({1592, 1722, 4616, 4617})
REQUIRED_H5_FIELDS = (
    "split", "img_to_first_box", "img_to_last_box", "img_to_first_rel", "img_to_last_rel",
    "labels", "boxes_1024", "relationships", "predicates",
)
_DOC_HINT = "see docs/DATA.md for the expected files"


class VGFormatError(ValueError):
    """A VG150 file exists but its content is not what the loader needs."""


def _require_file(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path} ({_DOC_HINT}; the dataset root is "
                                "DATASETS.DATA_DIR or the environment variable SGG_DATA_DIR)")


def _read_json(path: str, what: str) -> object:
    _require_file(path, what)
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise VGFormatError(f"{what} {path} is not valid JSON ({err}); regenerate it") from None


def _names_by_index(mapping: dict, key: str, path: str) -> list[str]:
    """``{name: 1..n}`` -> ``['__background__', name_1, ..., name_n]`` with contiguous ids."""
    names = sorted(mapping, key=lambda name: mapping[name])
    ids = [mapping[name] for name in names]
    if ids != list(range(1, len(ids) + 1)):
        raise VGFormatError(f"'{key}' in {path} must map names to the contiguous ids 1..{len(ids)}"
                            f" (got ids {ids[:5]}...); fix the dicts json")
    return ["__background__"] + names


def load_info(dict_file: str) -> tuple[list[str], list[str], list[str]]:
    """Class, predicate and attribute names of a dicts json, index 0 = ``__background__``."""
    info = _read_json(dict_file, "VG dicts json")
    if not isinstance(info, dict):
        raise VGFormatError(f"VG dicts json {dict_file} must hold a JSON object; {_DOC_HINT}")
    for key in ("label_to_idx", "predicate_to_idx"):
        if key not in info:
            raise VGFormatError(f"VG dicts json {dict_file} has no '{key}' map; {_DOC_HINT}")
    classes = _names_by_index(info["label_to_idx"], "label_to_idx", dict_file)
    predicates = _names_by_index(info["predicate_to_idx"], "predicate_to_idx", dict_file)
    # VG-SGG-dicts.json (the catalog's VG_stanford_filtered) has no attributes.
    attributes = _names_by_index(info.get("attribute_to_idx", {}), "attribute_to_idx", dict_file)
    return classes, predicates, attributes


def load_image_info(image_file: str, num_rows: int) -> list[dict]:
    """Entries of image_data.json aligned with the ``num_rows`` h5 image rows.

    Each entry gets ``file_name`` (default ``{image_id}.jpg``). The original Visual Genome list
    has four entries more than the h5 (the corrupted images of ``CORRUPTED_VG_IMAGE_IDS``); they
    are dropped only when the counts differ, so files whose counts already match align 1:1.
    """
    entries = _read_json(image_file, "image_data.json")
    if not isinstance(entries, list):
        raise VGFormatError(f"{image_file} must hold a JSON list of images; {_DOC_HINT}")
    if len(entries) > num_rows:
        entries = [e for e in entries if int(e.get("image_id", -1)) not in CORRUPTED_VG_IMAGE_IDS]
    if len(entries) != num_rows:
        raise VGFormatError(
            f"{image_file} lists {len(entries)} images (after dropping the corrupted VG ids "
            f"{sorted(CORRUPTED_VG_IMAGE_IDS)}) but the h5 has {num_rows} image rows; the two "
            "files must come from the same conversion")
    aligned = []
    for row, entry in enumerate(entries):
        missing = [k for k in ("image_id", "width", "height") if k not in entry]
        if missing:
            raise VGFormatError(f"{image_file} entry {row} lacks {missing}; {_DOC_HINT}")
        info = dict(entry)
        info["file_name"] = entry.get("file_name") or f"{entry['image_id']}.jpg"
        aligned.append(info)
    return aligned


def decode_boxes(encoded: np.ndarray) -> np.ndarray:
    """(cx, cy, w, h) -> xyxy as the reference loader computes it, in float64.

    The reference writes x1 = cx - w/2 back into the integer h5 array (truncating toward zero)
    and then adds w; integer files are decoded with the same truncation so ground-truth boxes
    match published evaluations exactly. Float files are decoded without truncation.
    """
    boxes = encoded.astype(np.float64)
    x1y1 = boxes[:, :2] - boxes[:, 2:] / 2.0
    if np.issubdtype(encoded.dtype, np.integer):
        x1y1 = np.trunc(x1y1)
    return np.concatenate([x1y1, x1y1 + boxes[:, 2:]], axis=1)


def relation_pairs_overlap(boxes: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Whether subject and object boxes of each pair have IoU > 0 (+1 pixel: touching counts)."""
    sub, obj = boxes[pairs[:, 0]], boxes[pairs[:, 1]]
    inter_w = np.minimum(sub[:, 2], obj[:, 2]) - np.maximum(sub[:, 0], obj[:, 0]) + 1
    inter_h = np.minimum(sub[:, 3], obj[:, 3]) - np.maximum(sub[:, 1], obj[:, 1]) + 1
    return (inter_w > 0) & (inter_h > 0)


@dataclass
class SplitGraphs:
    """Per-image ground truth of one split, boxes xyxy at BOX_SCALE (longer image side 1024)."""

    image_rows: np.ndarray  # [I] h5 image rows of the split, in h5 order
    num_rows: int  # image rows in the whole h5
    boxes: list[np.ndarray]  # [N_i, 4] float64
    labels: list[np.ndarray]  # [N_i] int64
    attributes: list[np.ndarray]  # [N_i, 10] int64
    relations: list[np.ndarray]  # [R_i, 3] int64: subject index, object index, predicate

    def __len__(self) -> int:
        return len(self.image_rows)


def _select_rows(h5: h5py.File, split: str, num_im: int, num_val_im: int,
                 filter_empty_rels: bool) -> np.ndarray:
    """h5 rows of ``split`` before the non-overlap filter (the reference's order of steps)."""
    mask = h5["split"][:] == (2 if split == "test" else 0)
    mask &= h5["img_to_first_box"][:] >= 0
    if filter_empty_rels:
        mask &= h5["img_to_first_rel"][:] >= 0
    rows = np.nonzero(mask)[0]
    # Validation is the first num_val_im train-flag rows, carved before the overlap filter.
    if num_val_im > 0 and split == "val":
        rows = rows[:num_val_im]
    elif num_val_im > 0 and split == "train":
        rows = rows[num_val_im:]
    return rows


def _check_values(name: str, values: np.ndarray, limit: int | None, path: str) -> None:
    if limit is None or values.size == 0:
        return
    bad = values[(values < 1) | (values >= limit)]
    if bad.size:
        raise VGFormatError(f"{path}: '{name}' holds {int(bad[0])}, outside 1..{limit - 1} of the "
                            "dicts json; the h5 and the dicts json must come from one conversion")


def load_split_graphs(
    roidb_file: str,
    split: str,
    num_im: int = -1,
    num_val_im: int = 5000,
    filter_empty_rels: bool = True,
    filter_non_overlap: bool = False,
    num_classes: int | None = None,
    num_predicates: int | None = None,
) -> SplitGraphs:
    """Load the ground truth of ``split`` ("train", "val" or "test") from a VG150 h5.

    ``num_classes`` / ``num_predicates`` (including background) bound the label values.
    ``num_im > 0`` keeps the first ``num_im`` images of the final split.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if filter_non_overlap and split != "train":
        raise ValueError("filter_non_overlap applies to the train split only")
    _require_file(roidb_file, "VG h5 file")
    try:
        with h5py.File(roidb_file, "r") as h5:
            missing = [f for f in REQUIRED_H5_FIELDS if f not in h5]
            if missing:
                raise VGFormatError(f"VG h5 file {roidb_file} lacks the field(s) {missing}; "
                                    f"{_DOC_HINT}")
            num_rows = len(h5["split"])
            rows = _select_rows(h5, split, num_im, num_val_im, filter_empty_rels)
            first_box, last_box = h5["img_to_first_box"][:], h5["img_to_last_box"][:]
            first_rel, last_rel = h5["img_to_first_rel"][:], h5["img_to_last_rel"][:]
            encoded = h5["boxes_1024"][:]
            labels = h5["labels"][:, 0].astype(np.int64)
            attributes = (h5["attributes"][:].astype(np.int64) if "attributes" in h5
                          else np.zeros((len(labels), 10), dtype=np.int64))
            pairs = h5["relationships"][:].astype(np.int64)
            predicates = h5["predicates"][:, 0].astype(np.int64)
    except OSError as err:  # h5py's messages (e.g. "truncated file: eof = ...") omit the path
        raise VGFormatError(
            f"VG h5 file {roidb_file} (data set folder {os.path.dirname(roidb_file) or '.'}, "
            f"split '{split}') is truncated or corrupt and cannot be read: {err}. Copy it "
            "again or regenerate it with the converter that wrote it (docs/DATA.md)") from None
    if len(encoded) and (np.any(encoded[:, :2] < 0) or np.any(encoded[:, 2:] <= 0)):
        raise VGFormatError(f"{roidb_file}: 'boxes_1024' must hold cx, cy >= 0 and w, h > 0")
    boxes = decode_boxes(encoded)

    graphs = SplitGraphs(rows[:0], num_rows, [], [], [], [])
    kept = []
    for row in rows:
        b0, b1 = first_box[row], last_box[row] + 1
        if first_rel[row] >= 0:
            r0, r1 = first_rel[row], last_rel[row] + 1
            pair = pairs[r0:r1] - b0
            if pair.size and (pair.min() < 0 or pair.max() >= b1 - b0):
                raise VGFormatError(
                    f"{roidb_file}: image row {row} has a relation whose object index is outside "
                    f"its {b1 - b0} boxes (rows {r0}..{r1 - 1} of 'relationships'); regenerate "
                    "the h5")
            rels = np.column_stack([pair, predicates[r0:r1]])
        else:
            rels = np.zeros((0, 3), dtype=np.int64)
        if filter_non_overlap:
            rels = rels[relation_pairs_overlap(boxes[b0:b1], rels[:, :2])]
            if len(rels) == 0:
                continue
        kept.append(row)
        graphs.boxes.append(boxes[b0:b1])
        graphs.labels.append(labels[b0:b1])
        graphs.attributes.append(attributes[b0:b1])
        graphs.relations.append(rels)
        if 0 < num_im <= len(kept):
            break
    graphs.image_rows = np.asarray(kept, dtype=np.int64)
    if not kept:
        raise VGFormatError(
            f"split '{split}' of {roidb_file} is empty after filtering (num_val_im={num_val_im}, "
            f"filter_empty_rels={filter_empty_rels}, filter_non_overlap={filter_non_overlap}); "
            "check the split flags of the h5 or lower DATASETS.NUM_VAL_IM")
    if num_classes is not None:
        _check_values("labels", np.concatenate(graphs.labels), num_classes, roidb_file)
    if num_predicates is not None:
        rels_all = np.concatenate(graphs.relations)
        _check_values("predicates", rels_all[:, 2], num_predicates, roidb_file)
    logger.info("Loaded %d images of split '%s' from %s", len(kept), split, roidb_file)
    return graphs
