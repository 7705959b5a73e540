"""Statistics of a generated data set: sizes, the predicate long tail, zero- and few-shot
triplets, and the share of relations whose predicate the rest of the scene decides. They run
on records in memory (no pixels needed), so the tests can check the guarantees of the
``small`` preset in seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..vg_format import VGImageRecord
from .records import TEST_SPLIT, TRAIN_SPLIT

__all__ = ["FEW_SHOT_BINS", "SplitStatistics", "split_statistics"]

# Few-shot bins: test triplet types whose number of training instances lies in [lo, hi].
FEW_SHOT_BINS = ((1, 5), (6, 10), (11, 20))


@dataclass
class SplitStatistics:
    """What the dataset card reports and the tests check."""

    num_train: int
    num_test: int
    objects_per_image: tuple[float, int, int]  # mean, min, max
    relations_per_image: tuple[float, int, int]
    pair_density: float  # mean fraction of ordered object pairs that carry a relation
    train_predicate_counts: np.ndarray  # [P + 1], index 0 unused
    head_tail_ratio: float  # most / least frequent predicate in train (inf if one is absent)
    zero_shot_triplets: int  # test triplet types never seen in train
    zero_shot_instances: int  # test relations of those types
    few_shot_triplets: dict[str, int]  # per FEW_SHOT_BINS: test triplet types in the bin
    few_shot_instances: dict[str, int]
    # Relations (all splits) per context rule, from the records' extra["context"] flags.
    context_counts: dict[str, int]
    context_share: float  # fraction of all relations that a context rule decides


def _triplets(record: VGImageRecord) -> list[tuple[int, int, int]]:
    rels = np.asarray(record.relations).reshape(-1, 3)
    return [(int(record.labels[s]), int(record.labels[o]), int(p)) for s, o, p in rels]


def _summary(values: list[int]) -> tuple[float, int, int]:
    return float(np.mean(values)), int(min(values)), int(max(values))


def split_statistics(records: Sequence[VGImageRecord], num_predicates: int) -> SplitStatistics:
    """Statistics of records with splits 0 (train) and 2 (test)."""
    train = [r for r in records if r.split == TRAIN_SPLIT]
    test = [r for r in records if r.split == TEST_SPLIT]
    counts = np.zeros(num_predicates + 1, dtype=np.int64)
    train_triplets: Counter = Counter()
    for r in train:
        rels = np.asarray(r.relations).reshape(-1, 3)
        np.add.at(counts, rels[:, 2], 1)
        train_triplets.update(_triplets(r))
    present = counts[1:]
    ratio = float(present.max() / present.min()) if present.min() > 0 else float("inf")
    test_triplets: Counter = Counter()
    for r in test:
        test_triplets.update(_triplets(r))
    zero = [t for t in test_triplets if train_triplets[t] == 0]
    few_types, few_inst = {}, {}
    for lo, hi in FEW_SHOT_BINS:
        types = [t for t in test_triplets if lo <= train_triplets[t] <= hi]
        few_types[f"{lo}-{hi}"] = len(types)
        few_inst[f"{lo}-{hi}"] = sum(test_triplets[t] for t in types)
    context: Counter = Counter(name for r in records for name in r.extra.get("context", ())
                               if name)
    n_obj = [len(r.labels) for r in records]
    n_rel = [len(np.asarray(r.relations).reshape(-1, 3)) for r in records]
    density = float(np.mean([nr / max(no * (no - 1), 1) for no, nr in zip(n_obj, n_rel)]))
    return SplitStatistics(
        num_train=len(train), num_test=len(test), objects_per_image=_summary(n_obj),
        relations_per_image=_summary(n_rel), pair_density=density,
        train_predicate_counts=counts, head_tail_ratio=ratio,
        zero_shot_triplets=len(zero), zero_shot_instances=sum(test_triplets[t] for t in zero),
        few_shot_triplets=few_types, few_shot_instances=few_inst,
        context_counts=dict(sorted(context.items())),
        context_share=sum(context.values()) / max(sum(n_rel), 1))
