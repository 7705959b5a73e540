"""The frequency-only baseline (Motifs' FREQ): predicates from train statistics alone.

Every ordered pair of GT boxes is scored by the softmax of the frequency table
``pred_dist()[subject class, object class]`` (the FrequencyBias initialisation, background
column included); the image is not looked at. With GT boxes and labels this is the PredCls
baseline a trained model must beat; its recall shows how much the class prior alone explains.
"""

from __future__ import annotations

from typing import Any

import torch

from maskrcnn_benchmark.structures.bounding_box import BoxList

__all__ = ["frequency_baseline_predictions"]


def frequency_baseline_predictions(dataset: Any, statistics: Any) -> list[BoxList]:
    """One prediction BoxList per image of ``dataset`` (PredCls contract, original frame)."""
    probabilities = torch.softmax(statistics.pred_dist().float(), dim=-1)
    predictions = []
    for index in range(len(dataset)):
        gt = dataset.get_groundtruth(index, evaluation=True)
        labels = gt.get_field("labels").long()
        n = len(labels)
        subjects, objects = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        keep = subjects != objects
        pairs = torch.stack([subjects[keep], objects[keep]], dim=1)
        if len(pairs) == 0:
            pairs = torch.zeros((1, 2), dtype=torch.int64)
        scores = probabilities[labels[pairs[:, 0]], labels[pairs[:, 1]]]
        best, best_label = scores[:, 1:].max(dim=1)
        order = torch.sort(best, descending=True, stable=True).indices
        prediction = BoxList(gt.bbox, gt.size, gt.mode)
        prediction.add_field("pred_labels", labels)
        prediction.add_field("pred_scores", torch.ones(n))
        prediction.add_field("labels", labels)
        prediction.add_field("rel_pair_idxs", pairs[order])
        prediction.add_field("pred_rel_scores", scores[order])
        prediction.add_field("pred_rel_labels", best_label[order] + 1)
        predictions.append(prediction)
    return predictions
