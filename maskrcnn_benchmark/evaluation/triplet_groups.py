"""Triplet-type groups for zero-shot and few-shot recall: which GT relations belong to each.

A group is either a range of train-split counts of the (subject class, object class,
predicate) triplet type (zero-shot = count 0; few-shot bin k1-k2 = counts k1..k2 inclusive;
exact-k = count k) or an explicit set of triplet types (the reference's legacy
``zeroshot_triplet.pytorch`` / ``vg-{k}-shot-triplets.pytorch`` files). Membership is by
triplet type only, never by boxes, as in SGB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "TripletGroup",
    "zero_shot_group",
    "few_shot_bin_group",
    "few_shot_exact_group",
    "group_membership",
]

# Maps LongTensor[M, 3] (subject class, object class, predicate) -> LongTensor[M] train counts.
TrainCountFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TripletGroup:
    """A named set of triplet types: a train-count range, or explicit ``triplets`` [M, 3]."""

    key: str
    kind: str  # "zero-shot", "few-shot bin" or "k-shot"
    description: str
    min_count: int = 0
    max_count: int = 0
    triplets: np.ndarray | None = None

    @property
    def needs_counts(self) -> bool:
        """Whether membership comes from train-split counts (no explicit triplet set)."""
        return self.triplets is None


def _as_triplet_array(triplets: torch.Tensor | np.ndarray, source: str) -> np.ndarray:
    array = np.asarray(triplets.cpu() if isinstance(triplets, torch.Tensor) else triplets)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(
            f"{source}: expected triplets of shape [M, 3] (subject class, object class, "
            f"predicate), got shape {tuple(array.shape)}"
        )
    return np.unique(array.astype(np.int64), axis=0)


def zero_shot_group(triplets: torch.Tensor | np.ndarray | None = None) -> TripletGroup:
    """Zero-shot: triplet types never seen in train (count 0), or the given reference set."""
    explicit = None if triplets is None else _as_triplet_array(triplets, "zero-shot triplets")
    return TripletGroup("zero-shot", "zero-shot", "Zero Shot Recall", 0, 0, explicit)


def few_shot_bin_group(min_count: int, max_count: int) -> TripletGroup:
    """Few-shot bin: triplet types seen ``min_count``..``max_count`` times in train (inclusive)."""
    if not 1 <= min_count <= max_count:
        raise ValueError(
            f"few-shot bin ({min_count}, {max_count}) must satisfy 1 <= k1 <= k2; "
            "check TEST.RELATION.FEW_SHOT_BINS"
        )
    return TripletGroup(
        f"{min_count}-{max_count}",
        "few-shot bin",
        f"Few Shot Recall (train count {min_count}-{max_count})",
        min_count,
        max_count,
    )


def few_shot_exact_group(
    count: int, triplets: torch.Tensor | np.ndarray | None = None
) -> TripletGroup:
    """Exact k-shot: triplet types seen exactly ``count`` times in train, or the given set."""
    if count < 1:
        raise ValueError(f"k-shot k={count} must be >= 1; check TEST.RELATION.FEW_SHOT_EXACT_KS")
    explicit = None if triplets is None else _as_triplet_array(triplets, f"{count}-shot triplets")
    return TripletGroup(f"{count}", "k-shot", f"{count} Shot Recall", count, count, explicit)


def _in_set(rows: np.ndarray, members: np.ndarray) -> np.ndarray:
    if len(rows) == 0 or len(members) == 0:
        return np.zeros(len(rows), dtype=bool)
    bound = int(max(rows.max(), members.max())) + 1

    def encode(triplets: np.ndarray) -> np.ndarray:
        return (triplets[:, 0] * bound + triplets[:, 1]) * bound + triplets[:, 2]

    return np.isin(encode(rows), encode(members))


def group_membership(
    groups: Sequence[TripletGroup],
    gt_triplets: np.ndarray,
    train_count: TrainCountFn | None,
) -> dict[str, np.ndarray]:
    """For each group, a bool mask [M] over GT triplet types [M, 3] (subject, object, predicate).

    Counts are looked up once for all rows (one vectorised call over the whole dataset).
    """
    gt_triplets = np.asarray(gt_triplets, dtype=np.int64).reshape(-1, 3)
    counts = None
    if any(g.needs_counts for g in groups):
        if train_count is None:
            raise ValueError(
                "zero-/few-shot recall from train counts needs the dataset statistics "
                "(train_triplet_count); pass statistics, or set TEST.RELATION.ZERO_SHOT_FILE / "
                "FEW_SHOT_DIR, or set TEST.RELATION.FEW_SHOT_BINS to ()"
            )
        counts = train_count(torch.from_numpy(gt_triplets)).cpu().numpy().astype(np.int64)
        if counts.shape != (len(gt_triplets),):
            raise ValueError(
                f"train_triplet_count returned shape {counts.shape} for {len(gt_triplets)} triplets"
            )
    masks = {}
    for group in groups:
        if group.needs_counts:
            masks[group.key] = (counts >= group.min_count) & (counts <= group.max_count)
        else:
            masks[group.key] = _in_set(gt_triplets, group.triplets)
    return masks
