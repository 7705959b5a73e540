"""SGB's custom-image output files: ``custom_prediction.json`` and ``custom_data_info.json``.

The layout is Scene-Graph-Benchmark's (``TEST.CUSTUM_EVAL``), so scripts written for its files
read these unchanged:

- ``custom_prediction.json``: ``{"<image index>": {...}}`` (string keys "0", "1", ... as
  ``json.dump`` writes SGB's int keys), per image ``bbox`` ([x1, y1, x2, y2] floats),
  ``bbox_labels`` (class ids), ``bbox_scores``, sorted by object score (descending);
  ``rel_pairs`` ([subject, object] indices into that sorted box list), ``rel_labels`` (best
  predicate id, background excluded), ``rel_scores`` (its probability) and ``rel_all_scores``
  (the softmax over all predicates, column 0 = background), sorted by ``rel_scores``
  (descending).
- ``custom_data_info.json``: ``idx_to_files``, ``ind_to_classes``, ``ind_to_predicates`` as
  SGB, plus (new) ``idx_to_image_size`` and ``idx_to_input_size`` ([width, height] of the
  upright image and of the network input), ``box_frame`` ("input": SGB's frame, boxes in
  network-input pixels; "image": boxes in upright image pixels) and ``skipped`` (files that
  could not be read, with the reason).

Differences from SGB: ties in a sort keep the model's order (SGB puts the later one first),
and the placeholder pair [0, 0] that the relation head scores when an image has fewer than two
boxes (or no overlapping pair) is left out (SGB writes it as a relation of a box with itself).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import torch

from maskrcnn_benchmark.structures.bounding_box import BoxList

__all__ = ["BOX_FRAMES", "DATA_INFO_NAME", "PREDICTION_NAME", "sgb_prediction_tensors",
           "sgb_prediction_entry", "custom_data_info", "write_custom_outputs"]

DATA_INFO_NAME = "custom_data_info.json"
PREDICTION_NAME = "custom_prediction.json"
BOX_FRAMES = ("input", "image")


def _descending(scores: torch.Tensor) -> torch.Tensor:
    return torch.sort(scores, descending=True, stable=True).indices


def sgb_prediction_tensors(prediction: BoxList, boxes: torch.Tensor | None = None,
                           name: str = "") -> dict[str, torch.Tensor]:
    """One image's SGB entry as compact tensors (keys and order of the JSON entry).

    ``prediction`` follows the prediction contract (docs/ARCHITECTURE.md). ``boxes`` [N, 4]
    replaces its boxes (e.g. the user's own, untouched by the resize round trip); otherwise the
    boxes are in the prediction's ``size`` frame. ``name`` goes into the error raised for
    non-finite values.
    """
    xyxy = prediction.convert("xyxy").bbox if boxes is None else boxes
    obj_scores = prediction.get_field("pred_scores").float()
    obj_labels = prediction.get_field("pred_labels").long()
    pairs = prediction.get_field("rel_pair_idxs").long().reshape(-1, 2)
    rel_all = prediction.get_field("pred_rel_scores").float()
    real = pairs[:, 0] != pairs[:, 1]  # the relation head's [0, 0] "no pair" placeholder
    pairs, rel_all = pairs[real], rel_all[real]
    for what, values in (("boxes", xyxy), ("object scores", obj_scores),
                         ("relation scores", rel_all)):
        if not torch.isfinite(values).all():
            raise ValueError(f"The model produced non-finite {what} for {name or 'an image'}; "
                             "the checkpoint or the DTYPE setting is broken (try DTYPE float32)")
    box_order = _descending(obj_scores)
    rank_of = torch.empty_like(box_order)
    rank_of[box_order] = torch.arange(len(box_order))
    if len(pairs):
        rel_scores, rel_labels = rel_all[:, 1:].max(dim=1)
    else:
        rel_scores, rel_labels = torch.zeros(0), torch.zeros(0, dtype=torch.long)
    rel_order = _descending(rel_scores)
    return {
        "bbox": xyxy[box_order].float().reshape(-1, 4),
        "bbox_labels": obj_labels[box_order],
        "bbox_scores": obj_scores[box_order],
        "rel_pairs": rank_of[pairs[rel_order]].reshape(-1, 2),
        "rel_labels": rel_labels[rel_order] + 1,
        "rel_scores": rel_scores[rel_order],
        "rel_all_scores": rel_all[rel_order],
    }


def sgb_prediction_entry(prediction: BoxList, boxes: torch.Tensor | None = None,
                         name: str = "") -> dict[str, list]:
    """One image's SGB entry as written to custom_prediction.json (see
    :func:`sgb_prediction_tensors`)."""
    return _as_lists(sgb_prediction_tensors(prediction, boxes, name))


def _as_lists(entry: Mapping[str, Any]) -> dict[str, list]:
    return {k: v.tolist() if isinstance(v, torch.Tensor) else v for k, v in entry.items()}


def custom_data_info(files: Sequence[str], obj_classes: Sequence[str],
                     rel_classes: Sequence[str], image_sizes: Sequence[tuple[int, int]],
                     input_sizes: Sequence[tuple[int, int]], box_frame: str,
                     skipped: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The content of custom_data_info.json (SGB's keys first, then this project's)."""
    if box_frame not in BOX_FRAMES:
        raise ValueError(f"box_frame must be one of {BOX_FRAMES}, got {box_frame!r}")
    return {
        "idx_to_files": list(files),
        "ind_to_classes": list(obj_classes),
        "ind_to_predicates": list(rel_classes),
        "idx_to_image_size": [list(s) for s in image_sizes],
        "idx_to_input_size": [list(s) for s in input_sizes],
        "box_frame": box_frame,
        "skipped": [{"file": path, "reason": reason} for path, reason in skipped],
    }


def _write_tmp(path: str, write: Callable[[TextIO], None]) -> str:
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return tmp


def _stream_predictions(f: TextIO, predictions: Mapping[str, Mapping[str, Any]]) -> None:
    """``json.dump(predictions)``'s text, converting one image at a time (an SGDet image of
    VG150 holds ~6,000 pairs x 51 scores: Python lists of every image at once would not fit)."""
    f.write("{")
    for n, (key, entry) in enumerate(predictions.items()):
        f.write(", " if n else "")
        f.write(f"{json.dumps(key)}: {json.dumps(_as_lists(entry), allow_nan=False)}")
    f.write("}")


def write_custom_outputs(out_dir: str, data_info: dict[str, Any],
                         predictions: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """Write both files atomically (complete new files, or the old ones untouched).

    ``predictions``: image key ("0", "1", ...) -> entry of tensors or lists.
    """
    if len(predictions) != len(data_info["idx_to_files"]):
        raise ValueError(f"{len(predictions)} predictions for "
                         f"{len(data_info['idx_to_files'])} files")
    os.makedirs(out_dir, exist_ok=True)
    info_path = os.path.join(out_dir, DATA_INFO_NAME)
    pred_path = os.path.join(out_dir, PREDICTION_NAME)
    info_tmp = _write_tmp(info_path, lambda f: json.dump(data_info, f, allow_nan=False))
    try:
        pred_tmp = _write_tmp(pred_path, lambda f: _stream_predictions(f, predictions))
    except BaseException:
        os.remove(info_tmp)
        raise
    os.replace(info_tmp, info_path)
    os.replace(pred_tmp, pred_path)
    return info_path, pred_path
