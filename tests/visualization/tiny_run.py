"""A tiny test-run folder without training: the `tiny` synthetic preset, hand-made PredCls
predictions evaluated and saved by the real evaluation code (config.yaml + visualization.pth)."""

from __future__ import annotations

import os

import numpy as np
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.evaluation import build_sgg_evaluator, save_visualization
from maskrcnn_benchmark.structures.bounding_box import BoxList

DATASET = "synthetic_vg_tiny"
TEST = f"{DATASET}_test"


def make_data(root) -> None:
    """The tiny preset (20 images, seed 0) under ``root``."""
    generate_dataset(str(root / DATASET), "tiny", seed=0, workers=1, num_images=20)


def run_cfg(root, out):
    """The config a PredCls run on the tiny data would save."""
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(os.path.dirname(__file__), "..", "..", "configs",
                                     "quickstart", "motifs_predcls.yaml"))
    cfg.merge_from_list([
        "DATASETS.DATA_DIR", str(root), "DATASETS.TRAIN", f"('{DATASET}_train',)",
        "DATASETS.VAL", "()", "DATASETS.TEST", f"('{TEST}',)", "DATASETS.NUM_VAL_IM", "0",
        "OUTPUT_DIR", str(out), "MODEL.DEVICE", "cpu",
    ])
    return cfg


def predictions(dataset, recall_every: int, wrong_score: float = 0.8) -> list[BoxList]:
    """PredCls predictions on the GT boxes: GT relation r (in an image's unique rows) gets its
    own predicate (score 0.9) when r % recall_every == 0, else a wrong one (``wrong_score``);
    every other ordered pair is background."""
    out = []
    num_predicates = len(dataset.ind_to_predicates)
    for index in range(len(dataset)):
        gt = dataset.get_groundtruth(index, evaluation=True)
        n = len(gt)
        subjects, objects = torch.nonzero(~torch.eye(n, dtype=torch.bool), as_tuple=True)
        pairs = torch.stack([subjects, objects], 1)
        scores = torch.zeros(len(pairs), num_predicates)
        scores[:, 0] = 0.95
        scores[:, 1] = 0.05
        rows = np.unique(gt.get_field("relation_tuple").numpy(), axis=0)
        _, first = np.unique(rows[:, :2], axis=0, return_index=True)
        for r, (s, o, p) in enumerate(rows[np.sort(first)]):  # one predicate per pair
            row = int(s) * (n - 1) + int(o) - (1 if o > s else 0)
            recalled = r % recall_every == 0
            predicate = int(p) if recalled else int(p) % (num_predicates - 1) + 1
            scores[row] = 0.0
            scores[row, 0] = 0.05
            scores[row, predicate] = 0.9 if recalled else wrong_score
        order = torch.sort(scores[:, 1:].max(1).values, descending=True, stable=True).indices
        prediction = BoxList(gt.bbox.clone(), gt.size)
        prediction.add_field("pred_labels", gt.get_field("labels"))
        prediction.add_field("pred_scores", torch.ones(n))
        prediction.add_field("rel_pair_idxs", pairs[order])
        prediction.add_field("pred_rel_scores", scores[order])
        prediction.add_field("pred_rel_labels", scores[order][:, 1:].argmax(1) + 1)
        out.append(prediction)
    return out


def make_run(root, out, recall_every: int = 2, wrong_score: float = 0.8):
    """Write ``out``/config.yaml and ``out``/inference/<test>/visualization.pth; returns cfg."""
    cfg = run_cfg(root, out)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.yaml"), "w") as f:
        f.write(cfg.dump())
    dataset = build_dataset(cfg, [TEST], is_train=False)[0]
    statistics = get_dataset_statistics(cfg)
    output = build_sgg_evaluator(cfg, statistics).evaluate(
        dataset, predictions(dataset, recall_every, wrong_score))
    save_visualization(os.path.join(out, "inference", TEST, "visualization.pth"), output, dataset)
    return cfg
