"""An image's scene graph for retrieval: from saved predictions (SGB's rule) or ground truth.

SGB's ``preprocessing.py`` turns an SGDet prediction into a graph this way, and so does
``prediction_graph``: objects scoring at least ``obj_threshold`` are the entities; a scored pair
of two such objects is a relation when its most probable column of ``pred_rel_scores``
(background included) is a predicate, labelled with that predicate's image-side word
(``idx_to_meta_predicate``). SGB keeps every such pair; ``top_k`` > 0 keeps the ``top_k`` with
the highest triplet score (subject score x object score x predicate score), an option of this
package. Relations are listed by decreasing triplet score (SGB lists them by entity index; the
encoder sums over relations, so the order does not matter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from maskrcnn_benchmark.data.datasets.capgraphs import TextGraph
from maskrcnn_benchmark.structures.bounding_box import BoxList

__all__ = ["prediction_graph", "ground_truth_graph", "predicate_word"]


def predicate_word(predicate: int, meta_predicates: Mapping[int, str]) -> str:
    """The image-side word of a predicate id; an id missing from the map is an error."""
    try:
        return meta_predicates[int(predicate)]
    except KeyError:
        raise KeyError(f"predicate id {int(predicate)} has no entry in the caption-graph file's "
                       "idx_to_meta_predicate; use the caption-graph file of this data set"
                       ) from None


def prediction_graph(prediction: BoxList, classes: Sequence[str],
                     meta_predicates: Mapping[int, str], obj_threshold: float = 0.1,
                     top_k: int = 0) -> TextGraph:
    """The retrieval graph of one saved prediction (fields of the prediction contract)."""
    for name in ("pred_labels", "pred_scores", "rel_pair_idxs", "pred_rel_scores"):
        if not prediction.has_field(name):
            raise KeyError(f"the prediction has no '{name}' field; it is not a relation model's "
                           "saved prediction (predictions.pth of tools/relation_test_net.py)")
    labels = prediction.get_field("pred_labels").long()
    scores = prediction.get_field("pred_scores").float()
    pairs = prediction.get_field("rel_pair_idxs").long().reshape(-1, 2)
    rel_scores, rel_labels = prediction.get_field("pred_rel_scores").float().max(dim=1)
    kept = (scores >= obj_threshold) & (labels > 0)
    new_index = torch.cumsum(kept.long(), 0) - 1
    entities = [classes[int(c)] for c in labels[kept].tolist()]
    if len(pairs) == 0:
        return TextGraph(entities, [])
    triplet = scores[pairs[:, 0]] * scores[pairs[:, 1]] * rel_scores
    valid = (rel_labels > 0) & kept[pairs[:, 0]] & kept[pairs[:, 1]] & (triplet > 0)
    valid &= pairs[:, 0] != pairs[:, 1]
    rows = torch.nonzero(valid).flatten()
    rows = rows[torch.sort(triplet[rows], descending=True, stable=True).indices]
    relations, seen = [], set()
    for row in rows.tolist():
        pair = (int(pairs[row, 0]), int(pairs[row, 1]))
        if pair in seen:  # one label per ordered pair, as SGB's pair matrix keeps
            continue
        seen.add(pair)
        relations.append((int(new_index[pair[0]]), int(new_index[pair[1]]),
                          predicate_word(int(rel_labels[row]), meta_predicates)))
        if 0 < top_k <= len(relations):
            break
    return TextGraph(entities, relations)


def ground_truth_graph(labels: torch.Tensor, relations: torch.Tensor, classes: Sequence[str],
                       meta_predicates: Mapping[int, str]) -> TextGraph:
    """The retrieval graph of an image's annotation (every object, every relation row)."""
    return TextGraph([classes[int(c)] for c in labels.tolist()],
                     [(int(s), int(o), predicate_word(int(p), meta_predicates))
                      for s, o, p in relations.reshape(-1, 3).tolist()])
