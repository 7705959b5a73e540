"""Decoding predicate scores of one image into relations, independently or under the scene
rules, and the metrics of the oracle check.

Both decoders read the same scores [M, P + 1] (column 0 = no relation). The independent one
takes each pair's argmax. The rule-aware one is greedy over (pair, predicate) candidates and
accepts one when its pair is still free and the relations accepted so far keep every scene
rule (``rules.ConstraintState``); then it fills what an "exactly one" rule still lacks (a
garment without wearer, a bike neither used nor parked) by relabelling the pair that loses the
least probability. Candidates are visited by the probability their pair puts on the labels
that every scene rule treats alike (e.g. "riding", "on" and "sitting on" from a person to a
horse; "holding" and "has"; the proximity words), so a pair whose mass is split between a
generic and a specific word is not beaten by a pair with all its mass on one word.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .rules import GROUP_RULES, ConstraintState, pair_allowed

__all__ = ["allowed_mask", "decode_graph", "rank_triplets", "recall_at_k", "mean_recall_at_k",
           "accuracy_and_mean_recall", "graph_f1"]

_EXACT = {rule.name: rule for rule in GROUP_RULES if rule.exact}


def allowed_mask(classes: Sequence[str], boxes: np.ndarray, pairs: np.ndarray,
                 predicates: Sequence[str]) -> np.ndarray:
    """[M, P + 1] bool: which predicates (column 0 = background) each pair's rules admit."""
    mask = np.ones((len(pairs), len(predicates) + 1), dtype=bool)
    for m, (s, o) in enumerate(pairs):
        for p, name in enumerate(predicates, start=1):
            mask[m, p] = pair_allowed(name, classes[s], classes[o], boxes[s], boxes[o])
    return mask


@lru_cache(maxsize=4096)
def _rule_groups(subj: str, obj: str, predicates: tuple[str, ...]) -> np.ndarray:
    """[P + 1] group id per column for a (subject, object) class pair: columns whose labels
    increment the same scene-rule counters share an id; background has its own."""
    state = ConstraintState([subj, obj])
    ids: dict[frozenset, int] = {}
    out = np.zeros(len(predicates) + 1, dtype=np.int64)
    for p, name in enumerate(predicates, start=1):
        out[p] = ids.setdefault(frozenset(state.keys(0, 1, name)), len(ids) + 1)
    return out


def _group_mass(probs: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
                predicates: Sequence[str]) -> np.ndarray:
    """[M, P + 1]: per candidate, the probability its pair puts on the candidate's group."""
    preds = tuple(predicates)
    gid = np.stack([_rule_groups(classes[s], classes[o], preds) for s, o in pairs])
    rows = np.repeat(np.arange(len(pairs))[:, None], gid.shape[1], axis=1)
    sums = np.zeros_like(probs)
    np.add.at(sums, (rows, gid), np.clip(probs, 0, None))
    return sums[rows, gid]


def _emptied_exact(state: ConstraintState, s: int, o: int, pred: str) -> bool:
    """Whether removing "s pred o" would leave an "exactly one" rule unmet."""
    return any(name in _EXACT and state.count(_EXACT[name], node) <= _EXACT[name].limit
               for name, node in state.keys(s, o, pred))


def _fill_exact(state: ConstraintState, labels: np.ndarray, probs: np.ndarray,
                pairs: np.ndarray, predicates: Sequence[str]) -> None:
    """Meet every "exactly one" rule that the greedy pass left short, relabelling per missing
    relation the pair whose log-probability drops least (in place)."""
    index = {name: p for p, name in enumerate(predicates, start=1)}
    log = np.log(np.clip(probs, 1e-12, None))
    for rule in _EXACT.values():
        for node, cls in enumerate(state.classes):
            if rule.classes is not None and cls not in rule.classes:
                continue
            while state.count(rule, node) < rule.limit:
                best = None
                for m in np.flatnonzero((pairs[:, 0] == node) | (pairs[:, 1] == node)):
                    s, o = int(pairs[m, 0]), int(pairs[m, 1])
                    family = rule.outgoing if s == node else rule.incoming
                    old = predicates[labels[m] - 1] if labels[m] else ""
                    if not family or (old and _emptied_exact(state, s, o, old)):
                        continue
                    if old:
                        state.remove(s, o)
                    for name in family:
                        p = index[name]
                        if probs[m, p] >= 0 and (rule.name, node) in state.keys(s, o, name) \
                                and state.can_add(s, o, name):
                            loss = log[m, labels[m]] - log[m, p]
                            if best is None or loss < best[0]:
                                best = (loss, m, p)
                    if old:
                        state.add(s, o, old)
                if best is None:
                    break
                _, m, p = best
                s, o = int(pairs[m, 0]), int(pairs[m, 1])
                if labels[m]:
                    state.remove(s, o)
                state.add(s, o, predicates[p - 1])
                labels[m] = p


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
    keys = np.where(probs < 0, -1.0, _group_mass(probs, pairs, classes, predicates))
    keys[:, 0] = probs[:, 0]
    labels = np.zeros(len(pairs), dtype=np.int64)
    done = np.zeros(len(pairs), dtype=bool)
    state = ConstraintState(classes)
    for flat in np.lexsort((-probs.ravel(), -keys.ravel())):
        m, p = divmod(int(flat), probs.shape[1])
        if done[m] or probs[m, p] < 0:
            continue
        s, o = int(pairs[m, 0]), int(pairs[m, 1])
        if p == 0 or state.can_add(s, o, predicates[p - 1]):
            if p:
                state.add(s, o, predicates[p - 1])
            labels[m], done[m] = p, True
    stuck = ~done  # every admissible predicate clashed with the scene: keep the best one
    labels[stuck] = probs[stuck].argmax(axis=1)
    for m in np.flatnonzero(stuck & (labels > 0)):
        state.add(int(pairs[m, 0]), int(pairs[m, 1]), predicates[labels[m] - 1])
    _fill_exact(state, labels, probs, pairs, predicates)
    return labels


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
