"""Oracle check of the benchmark: are the labels learnable, and does scene structure matter?

(a) A small MLP sees only each ordered pair's ground-truth boxes and classes (no pixels) and
    is trained with cross-entropy on the train split (annotated pairs plus three times as many
    unrelated pairs as background). Its test predicate accuracy on annotated pairs should be
    high but below the label-noise ceiling of the annotator.
(b) Its test scores are decoded twice: independently per pair (argmax) and jointly under the
    scene rules (see ``oracle_decode``). The rule-aware decoder should score higher.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..vg_format import VGImageRecord
from .oracle_decode import (
    accuracy_and_mean_recall,
    allowed_mask,
    decode_graph,
    graph_f1,
    mean_recall_at_k,
    rank_triplets,
    recall_at_k,
)

__all__ = ["pair_features", "PairClassifier", "OracleReport", "run_oracle"]

logger = logging.getLogger(__name__)
NUM_GEOMETRY = 21
RECALL_KS = (20, 50)


def pair_features(boxes: np.ndarray, width: int, height: int, pairs: np.ndarray) -> np.ndarray:
    """[M, NUM_GEOMETRY] geometry of ordered pairs (subject, object) of xyxy pixel boxes."""
    s, o = boxes[pairs[:, 0]].astype(np.float64), boxes[pairs[:, 1]].astype(np.float64)
    scale = np.array([width, height, width, height], dtype=np.float64)
    sw, sh = s[:, 2] - s[:, 0] + 1, s[:, 3] - s[:, 1] + 1
    ow, oh = o[:, 2] - o[:, 0] + 1, o[:, 3] - o[:, 1] + 1
    iw = np.clip(np.minimum(s[:, 2], o[:, 2]) - np.maximum(s[:, 0], o[:, 0]) + 1, 0, None)
    ih = np.clip(np.minimum(s[:, 3], o[:, 3]) - np.maximum(s[:, 1], o[:, 1]) + 1, 0, None)
    inter = iw * ih
    gap = np.clip(np.maximum(s[:, 0], o[:, 0]) - np.minimum(s[:, 2], o[:, 2]), 0, None)
    cols = [
        *(s / scale).T, *(o / scale).T,
        ((o[:, 0] + o[:, 2]) - (s[:, 0] + s[:, 2])) / (2 * sw),
        ((o[:, 1] + o[:, 3]) - (s[:, 1] + s[:, 3])) / (2 * sh),
        np.log(ow / sw), np.log(oh / sh),
        inter / (sw * sh + ow * oh - inter), inter / (sw * sh), inter / (ow * oh),
        (s[:, 3] - o[:, 3]) / height, (s[:, 3] - o[:, 1]) / oh, (s[:, 1] - o[:, 1]) / oh,
        iw / np.minimum(sw, ow), gap / ((sh + oh) / 2), np.log(sw * sh / (width * height)),
    ]
    return np.stack(cols, axis=1).astype(np.float32)


class PairClassifier(nn.Module):
    """MLP over (subject class, object class, pair geometry) -> predicate logits incl. bg."""

    def __init__(self, num_classes: int, num_predicates: int, hidden: int = 256,
                 embed: int = 32) -> None:
        super().__init__()
        self.subject = nn.Embedding(num_classes + 1, embed)
        self.object = nn.Embedding(num_classes + 1, embed)
        self.mlp = nn.Sequential(nn.Linear(2 * embed + NUM_GEOMETRY, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, num_predicates + 1))

    def forward(self, subj: torch.Tensor, obj: torch.Tensor, geo: torch.Tensor) -> torch.Tensor:
        """Logits [M, P + 1]."""
        return self.mlp(torch.cat([self.subject(subj), self.object(obj), geo], dim=1))


@dataclass
class _Pairs:
    """Every ordered pair of every image of a split, with targets (0 = unrelated)."""

    image: np.ndarray
    pairs: np.ndarray
    subj: np.ndarray
    obj: np.ndarray
    geo: np.ndarray
    target: np.ndarray


def _all_pairs(records: Sequence[VGImageRecord]) -> _Pairs:
    parts = []
    for k, r in enumerate(records):
        n = len(r.labels)
        ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        pairs = np.stack([ii.ravel(), jj.ravel()], 1)[ii.ravel() != jj.ravel()]
        target = np.zeros((n, n), dtype=np.int64)
        rels = np.asarray(r.relations).reshape(-1, 3)
        target[rels[:, 0], rels[:, 1]] = rels[:, 2]
        parts.append((np.full(len(pairs), k), pairs, r.labels[pairs[:, 0]],
                      r.labels[pairs[:, 1]], pair_features(r.boxes, r.width, r.height, pairs),
                      target[pairs[:, 0], pairs[:, 1]]))
    return _Pairs(*(np.concatenate(c) for c in zip(*parts)))


def _train(data: _Pairs, num_classes: int, num_predicates: int, epochs: int, seed: int
           ) -> tuple[PairClassifier, np.ndarray, np.ndarray]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean, std = data.geo.mean(0), data.geo.std(0) + 1e-6
    model = PairClassifier(num_classes, num_predicates)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-5)
    fg, bg = np.flatnonzero(data.target > 0), np.flatnonzero(data.target == 0)
    geo = torch.from_numpy((data.geo - mean) / std)
    subj, obj = torch.from_numpy(data.subj), torch.from_numpy(data.obj)
    target = torch.from_numpy(data.target)
    for epoch in range(epochs):
        idx = np.concatenate([fg, rng.choice(bg, min(len(bg), 3 * len(fg)), replace=False)])
        rng.shuffle(idx)
        for start in range(0, len(idx), 512):
            b = torch.from_numpy(idx[start: start + 512])
            loss = nn.functional.cross_entropy(model(subj[b], obj[b], geo[b]), target[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        logger.info("oracle epoch %d/%d loss %.3f", epoch + 1, epochs, loss.item())
    return model.eval(), mean, std


@dataclass
class OracleReport:
    """Test figures of the oracle check, per decoder (fractions in [0, 1])."""

    metrics: dict[str, dict[str, float]]  # decoder -> metric name -> value
    label_noise_ceiling: float | None
    num_test_images: int
    num_test_relations: int

    def markdown(self) -> str:
        """The figures as a markdown table."""
        names = list(next(iter(self.metrics.values())))
        lines = ["| decoder | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
        for decoder, values in self.metrics.items():
            lines.append(f"| {decoder} | " + " | ".join(f"{values[n]:.1%}" for n in names)
                         + " |")
        return "\n".join(lines)


DECODERS = {"independent argmax": (False, False), "argmax + pair rules": (True, False),
            "joint (pair + scene rules)": (True, True)}


def _evaluate(test: Sequence[VGImageRecord], data: _Pairs, probs: np.ndarray,
              classes: Sequence[str], predicates: Sequence[str], use_mask: bool,
              joint: bool) -> dict[str, float]:
    labels, gt_labels, graph, graph_gt, gts = [], [], [], [], []
    ranked: dict[int, list[np.ndarray]] = {k: [] for k in RECALL_KS}
    for k, r in enumerate(test):
        rows = np.flatnonzero(data.image == k)
        pairs, scores, target = data.pairs[rows], probs[rows], data.target[rows]
        names = [classes[c - 1] for c in r.labels]
        mask = allowed_mask(names, r.boxes, pairs, predicates) if use_mask else None
        gt_rows = target > 0
        labels.append(decode_graph(scores[gt_rows], pairs[gt_rows], names, predicates,
                                   None if mask is None else mask[gt_rows], joint, False))
        gt_labels.append(target[gt_rows])
        decoded = decode_graph(scores, pairs, names, predicates, mask, joint, True)
        graph.append(decoded)
        graph_gt.append(target)
        gts.append(np.asarray(r.relations).reshape(-1, 3))
        for kk in RECALL_KS:
            ranked[kk].append(rank_triplets(scores, pairs, decoded if use_mask else None, kk))
    out = dict(zip(("accuracy", "mean recall"),
                   accuracy_and_mean_recall(np.concatenate(labels), np.concatenate(gt_labels))))
    out.update(zip(("graph precision", "graph recall", "graph F1"),
                   graph_f1(np.concatenate(graph), np.concatenate(graph_gt))))
    for kk in RECALL_KS:
        out[f"R@{kk}"] = recall_at_k(ranked[kk], gts)
        out[f"mR@{kk}"] = mean_recall_at_k(ranked[kk], gts, len(predicates))
    return out


def run_oracle(records: Sequence[VGImageRecord], classes: Sequence[str],
               predicates: Sequence[str], epochs: int = 25, seed: int = 0,
               label_noise_ceiling: float | None = None) -> OracleReport:
    """Train on the train split (0); evaluate every decoder on the test split (2).

    Accuracy and mean recall are over annotated test pairs (each must get a predicate);
    graph precision / recall / F1 and R@K / mR@K are over all ordered pairs.
    """
    train = [r for r in records if r.split == 0]
    test = [r for r in records if r.split == 2]
    if not train or not test:
        raise ValueError("the oracle needs train (split 0) and test (split 2) images")
    model, mean, std = _train(_all_pairs(train), len(classes), len(predicates), epochs, seed)
    data = _all_pairs(test)
    with torch.no_grad():
        logits = model(torch.from_numpy(data.subj), torch.from_numpy(data.obj),
                       torch.from_numpy((data.geo - mean) / std))
        probs = torch.softmax(logits, dim=1).numpy()
    metrics = {name: _evaluate(test, data, probs, classes, predicates, use_mask, joint)
               for name, (use_mask, joint) in DECODERS.items()}
    return OracleReport(metrics, label_noise_ceiling, len(test),
                        int((data.target > 0).sum()))
