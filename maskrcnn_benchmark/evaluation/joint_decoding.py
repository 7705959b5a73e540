"""TEST.RELATION.JOINT_DECODE: re-decode a model's relation scores under the synthetic
benchmark's scene rules, the oracle's joint decoder (docs/SYNTHETIC.md) applied to real scores.

Per image, on the prediction in original pixels (the graph's nodes: GT boxes and labels in
PredCls, GT boxes and predicted labels in SGCls, predicted boxes and labels in SGDet):

1. the pair rules mask the labels a pair cannot take (``pair_rule_mask``, equal to the
   oracle's ``allowed_mask``);
2. ``label_marginals`` gives each pair's label probabilities given that the image keeps every
   scene rule (the scores taken as independent label probabilities), and the rounding of
   ``decode_joint`` turns them into the rule-keeping labelling (0 = no relation): the labels
   are ``decode_joint``'s, with the marginals computed once instead of twice (a test checks
   that both agree);
3. the prediction is rewritten: ``rel_scores`` become the rule-aware probabilities (0 where a
   pair rule forbids the label; the masked model scores in components too large to
   enumerate), each pair's graph-constrained label is its decoded label or, for pairs decoded
   as "no relation", its most probable predicate; the decoded relations are ranked first, then
   the other pairs, each block by label probability x subject score x object score (stable).

Graph-constrained metrics thus rank the decoded graph first (as the oracle's R@K does), and
no-graph-constraint metrics rank the rule-aware probabilities.
"""

from __future__ import annotations

import numpy as np

from maskrcnn_benchmark.data.datasets.synthetic.joint_decode import _round as round_to_labels
from maskrcnn_benchmark.data.datasets.synthetic.joint_decode import label_marginals

from .image_matching import ImagePrediction
from .structure_rules import RuleTables, pair_rule_mask

__all__ = ["joint_decode_prediction"]


def joint_decode_prediction(pred: ImagePrediction, tables: RuleTables, labels: np.ndarray,
                            boxes: np.ndarray, obj_scores: np.ndarray | None) -> ImagePrediction:
    """The prediction re-decoded under the scene rules (nodes: class ids ``labels``, ``boxes``
    in original pixels, ``obj_scores`` or None for PredCls' scores of 1)."""
    pairs = pred.rel_pairs
    if len(pairs) == 0:
        return pred
    if not np.isfinite(pred.rel_scores).all():
        raise ValueError("pred_rel_scores contain NaN or inf; the model output is invalid")
    if pairs.min() < 0 or pairs.max() >= len(labels):
        raise ValueError(f"rel_pair_idxs refer to box {int(pairs.max())} but the graph has "
                         f"{len(labels)} boxes")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= len(tables.classes):
        raise ValueError(f"object labels span {int(labels.min())}..{int(labels.max())} but the "
                         f"data set has {len(tables.classes)} classes")
    probs = pred.rel_scores.astype(np.float64)
    probs[~pair_rule_mask(tables, labels, boxes, pairs)] = -1.0
    names = [tables.classes[c] for c in labels]
    predicates = tables.predicates[1:]
    marginals, computed, mass = label_marginals(probs, pairs, names, predicates)
    # decode_joint's own steps after label_marginals
    keys = np.where(computed[:, None], marginals, np.where(probs < 0, -1.0, mass))
    decoded = round_to_labels(keys, probs, pairs, names, predicates)
    rule_probs = np.clip(np.where(computed[:, None], marginals, probs), 0.0, None)
    rows = np.arange(len(pairs))
    chosen = np.where(decoded > 0, decoded, rule_probs[:, 1:].argmax(axis=1) + 1)
    value = rule_probs[rows, chosen]
    if obj_scores is not None:
        value = value * obj_scores[pairs[:, 0]] * obj_scores[pairs[:, 1]]
    order = np.lexsort((-value, decoded == 0))  # decoded relations first; stable on ties
    return ImagePrediction(
        boxes=pred.boxes, labels=pred.labels, scores=pred.scores, rel_pairs=pairs[order],
        rel_scores=rule_probs[order].astype(np.float32), rel_labels=chosen[order],
    )
