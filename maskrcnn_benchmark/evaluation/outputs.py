"""Files written by a test run in ``OUTPUT_DIR/inference/<dataset>/``.

- ``predictions.pth``: every prediction (network-input frame, contract fields only), reloaded
  only with TEST.ALLOW_LOAD_FROM_CACHE; plain tensors, so ``torch.load(weights_only=True)``.
- ``eval_results.json``: every metric and the per-predicate tables.
- ``visualization.pth``: per image the GT, the boxes, the top relations and which GT rows
  they recall (``first_hit`` ranks), compact enough to keep for a whole split.
- ``per_predicate_recall.png``: per-predicate R@K and ngR@K bars.
With TEST.RELATION.JOINT_DECODE the folder is ``<dataset>_joint_decode`` (``JOINT_DECODE_SUFFIX``).
Every file is written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from maskrcnn_benchmark.structures.bounding_box import BoxList

from .image_matching import NEVER
from .sgg_evaluator import SGGEvalOutput

__all__ = [
    "JOINT_DECODE_SUFFIX",
    "PREDICTION_FIELDS",
    "save_predictions",
    "load_predictions",
    "save_eval_results",
    "save_visualization",
    "plot_per_predicate_recall",
]

PREDICTIONS_FORMAT = "sgg-ebm-predictions-v1"
# Results re-decoded under the synthetic benchmark's rules go to inference/<dataset> + this, so
# they never overwrite (or get mistaken for) the plain results of the same run.
JOINT_DECODE_SUFFIX = "_joint_decode"
# The prediction contract's fields plus `labels` (GT labels carried in GT-box modes, used by
# PredCls detection mAP). SGDet's boxes_per_cls / predict_logits are not needed to evaluate.
PREDICTION_FIELDS = (
    "pred_labels", "pred_scores", "rel_pair_idxs", "pred_rel_scores", "pred_rel_labels", "labels",
)


def _atomic_write(path: str, write: Callable[[str], None]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.")
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_predictions(path: str, predictions: Sequence[BoxList], dataset_name: str) -> None:
    """Save predictions (one BoxList per dataset index) for a later cached evaluation."""
    records = [
        {
            "bbox": p.convert("xyxy").bbox,
            "size": list(p.size),
            "fields": {n: p.get_field(n) for n in PREDICTION_FIELDS if p.has_field(n)},
        }
        for p in predictions
    ]
    payload = {"format": PREDICTIONS_FORMAT, "dataset": dataset_name, "predictions": records}
    _atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_predictions(path: str, dataset_name: str, num_images: int) -> list[BoxList]:
    """Load ``save_predictions`` output, checking it belongs to this dataset."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"Cannot read cached predictions {path} ({err}); delete it or set "
            "TEST.ALLOW_LOAD_FROM_CACHE False"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != PREDICTIONS_FORMAT:
        raise ValueError(f"{path} is not a {PREDICTIONS_FORMAT} predictions file")
    records = payload["predictions"]
    if payload["dataset"] != dataset_name or len(records) != num_images:
        raise ValueError(
            f"Cached predictions {path} are for '{payload['dataset']}' ({len(records)} images), "
            f"not '{dataset_name}' ({num_images} images); delete the file or set "
            "TEST.ALLOW_LOAD_FROM_CACHE False"
        )
    predictions = []
    for record in records:
        boxlist = BoxList(record["bbox"], tuple(record["size"]), mode="xyxy")
        for name, value in record["fields"].items():
            boxlist.add_field(name, value)
        predictions.append(boxlist)
    return predictions


def save_eval_results(path: str, metrics: dict[str, Any]) -> None:
    """Write every metric as JSON (``null`` where no image qualifies)."""
    text = json.dumps(metrics, indent=1, allow_nan=False)

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    _atomic_write(path, write)


def _hits(ranks: np.ndarray | None) -> torch.Tensor | None:
    if ranks is None:
        return None
    return torch.from_numpy(np.where(ranks == NEVER, -1, ranks))  # -1 = never recalled


def save_visualization(path: str, output: SGGEvalOutput, dataset: Any) -> None:
    """Per image: GT, predicted boxes, top relations and the rank that recalls each GT row."""
    images = []
    for index, record in enumerate(output.records):
        info = dataset.get_img_info(index)
        matches = record.matches
        images.append(
            {
                "index": index,
                "file_name": info.get("file_name", ""),
                "width": info["width"],
                "height": info["height"],
                "gt_boxes": torch.from_numpy(record.gt.boxes),
                "gt_labels": torch.from_numpy(record.gt.labels),
                "gt_relations": torch.from_numpy(record.gt.relations),
                "boxes": torch.from_numpy(record.boxes),
                "labels": torch.from_numpy(record.labels),
                "scores": torch.from_numpy(record.scores),
                "rel_pairs": torch.from_numpy(record.top_pairs),
                "rel_labels": torch.from_numpy(record.top_predicates),
                "rel_scores": torch.from_numpy(record.top_scores),
                "gt_first_hit": _hits(None if matches is None else matches.first_hit),
                "gt_first_hit_nogc": _hits(None if matches is None else matches.first_hit_nogc),
            }
        )
    payload = {
        "mode": output.metrics["mode"],
        "classes": list(dataset.ind_to_classes),
        "predicates": list(dataset.ind_to_predicates),
        "images": images,
    }
    _atomic_write(path, lambda tmp: torch.save(payload, tmp))


def plot_per_predicate_recall(path: str, metrics: dict[str, Any]) -> None:
    """Bar chart of per-predicate R@K and ngR@K at the largest K (Agg canvas, no GUI)."""
    per_predicate = metrics["per_predicate"]
    k = str(max(metrics["recall_ks"]))
    names = per_predicate["names"]
    positions = np.arange(len(names))
    figure = Figure(figsize=(max(8.0, 0.28 * len(names)), 5.0), tight_layout=True)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar(positions - 0.2, per_predicate["R"][k], width=0.4, label=f"R@{k}")
    axes.bar(positions + 0.2, per_predicate["ngR"][k], width=0.4, label=f"ngR@{k}")
    axes.set_xticks(positions, names, rotation=90, fontsize=7)
    axes.set_ylim(0, 1)
    axes.set_ylabel("recall")
    axes.set_title(
        f"Per-predicate recall ({metrics['mode']}): mR@{k}={metrics['mR'][k]:.4f}, "
        f"ng-mR@{k}={metrics['ng-mR'][k]:.4f}"
    )
    axes.legend()
    _atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=120))
