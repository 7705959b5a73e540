"""Decoding predicate scores of one image into relations, independently or under the scene
rules, and the metrics of the oracle check.

Both decoders read the same scores [M, P + 1] (column 0 = no relation). The independent one
takes each pair's argmax; the rule-aware one (``joint_decode``) each pair's most probable
label given that the image keeps every scene rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .joint_decode import decode_joint
from .rules import pair_allowed

__all__ = ["allowed_mask", "decode_graph", "rank_triplets", "recall_at_k", "mean_recall_at_k",
           "accuracy_and_mean_recall", "graph_f1"]


def allowed_mask(classes: Sequence[str], boxes: np.ndarray, pairs: np.ndarray,
                 predicates: Sequence[str]) -> np.ndarray:
    """[M, P + 1] bool: which predicates (column 0 = background) each pair's rules admit."""
    mask = np.ones((len(pairs), len(predicates) + 1), dtype=bool)
    for m, (s, o) in enumerate(pairs):
        for p, name in enumerate(predicates, start=1):
            mask[m, p] = pair_allowed(name, classes[s], classes[o], boxes[s], boxes[o])
    return mask


def decode_graph(scores: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
                 predicates: Sequence[str], mask: np.ndarray | None, joint: bool,
                 background: bool) -> np.ndarray:
    """[M] predicate per pair (0 = no relation, only when ``background``).

    ``mask`` (from ``allowed_mask``) applies the pair rules, ``joint`` the scene rules.
    Without ``background`` every pair gets a predicate (the ground-truth pairs of PredCls).
    """
    probs = scores.astype(np.float64).copy()
    if mask is not None:
        probs[~mask] = -1.0
    if not background:
        probs[:, 0] = -1.0
    if not joint:
        return probs.argmax(axis=1)
    return decode_joint(probs, pairs, classes, predicates)


def rank_triplets(scores: np.ndarray, pairs: np.ndarray, labels: np.ndarray | None,
                  k: int) -> np.ndarray:
    """Top-``k`` (subject, object, predicate), one predicate per pair.

    Without ``labels`` every pair offers its best predicate, ranked by its probability (the
    convention of Scene-Graph-Benchmark). With decoded ``labels`` the decoded relations come
    first (by probability), then the other pairs with their best predicate.
    """
    best = scores[:, 1:].argmax(axis=1) + 1
    chosen = best if labels is None else np.where(labels > 0, labels, best)
    value = scores[np.arange(len(scores)), chosen]
    if labels is not None:
        value = value + (labels > 0)  # decoded relations rank above all others
    order = np.argsort(-value, kind="stable")[:k]
    return np.stack([pairs[order, 0], pairs[order, 1], chosen[order]], axis=1)


def _hits(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """[R] bool: whether each ground-truth triplet is among the predictions."""
    keys = {tuple(t) for t in pred.tolist()}
    return np.array([tuple(t) in keys for t in gt.tolist()], dtype=bool)


def recall_at_k(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> float:
    """Mean over images of the fraction of ground-truth triplets predicted (graph constraint)."""
    return float(np.mean([_hits(p, g).mean() for p, g in zip(preds, gts) if len(g)]))


def mean_recall_at_k(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray],
                     num_predicates: int) -> float:
    """Per predicate, the mean over images of its recall; then the mean over predicates that
    occur (the mR@K of Scene-Graph-Benchmark)."""
    per_pred: list[list[float]] = [[] for _ in range(num_predicates + 1)]
    for p, g in zip(preds, gts):
        if not len(g):
            continue
        hits = _hits(p, g)
        for pred in np.unique(g[:, 2]):
            per_pred[pred].append(float(hits[g[:, 2] == pred].mean()))
    return float(np.mean([np.mean(r) for r in per_pred[1:] if r]))


def accuracy_and_mean_recall(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """Pooled accuracy of predicate labels and the mean over predicates of their recall."""
    recalls = [float((pred[gt == p] == p).mean()) for p in np.unique(gt)]
    return float((pred == gt).mean()), float(np.mean(recalls))


def graph_f1(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of decoded relations (0 = none) against annotated ones."""
    tp = float(((pred == gt) & (gt > 0)).sum())
    precision = tp / max(float((pred > 0).sum()), 1.0)
    recall = tp / max(float((gt > 0).sum()), 1.0)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-12)
