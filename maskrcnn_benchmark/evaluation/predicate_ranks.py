"""Where the GT relations of one predicate sit in a run's ranked triplet list.

For every GT triplet (subject, object, predicate) of the chosen predicate, the position of its
pair in the post-processor's ranking (``rel_pair_idxs`` is stored in rank order), whether the
pair is listed with that predicate, and whether the most probable label in the run's saved
scores (the head's, after any test-time decoding) is background (a "filler": ranked by its
best foreground probability although the scores say "no relation"). Used to see which hits
a test-time decoder moves out of the top K.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

__all__ = ["PredicateRanks", "predicate_ranks"]


@dataclass(frozen=True)
class PredicateRanks:
    """Counts over the GT triplets of one predicate (see the module docstring)."""

    gt: int               # GT triplets of the predicate
    in_top: int           # their pair ranks in the top K
    hit_top: int          # ... and is listed there with the GT predicate (a recall@K hit)
    background: int       # the most probable label of the pair's scores is background
    hit_top_background: int  # hits in the top K whose argmax is background (fillers)


def predicate_ranks(gt_relations: Sequence[Tensor], pair_idxs: Sequence[Tensor],
                    rel_labels: Sequence[Tensor], rel_scores: Sequence[Tensor],
                    predicate: int, top_k: int) -> PredicateRanks:
    """Counts for ``predicate`` over images: ``gt_relations`` [R, 3] (subject, object,
    predicate) per image; the run's ``pair_idxs`` [P, 2] (in rank order), listed labels [P] and
    scores [P, C] (column 0 background) per image. A pair the run did not score counts as
    ranked below K and not background."""
    gt = in_top = hit_top = background = hit_background = 0
    for relations, pairs, labels, scores in zip(gt_relations, pair_idxs, rel_labels, rel_scores):
        rank = {tuple(pair): position for position, pair in enumerate(pairs.tolist())}
        for subject, obj, label in relations.tolist():
            if label != predicate:
                continue
            gt += 1
            position = rank.get((subject, obj))
            if position is None:
                continue
            is_background = int(scores[position].argmax()) == 0
            background += is_background
            if position < top_k:
                in_top += 1
                if int(labels[position]) == predicate:
                    hit_top += 1
                    hit_background += is_background
    return PredicateRanks(gt, in_top, hit_top, background, hit_background)
