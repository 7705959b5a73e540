"""DistributedSampler: equal, disjoint shards of a per-epoch seeded permutation."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler[int]):
    """Indices of one rank's shard; every rank gets ``ceil(size / num_replicas)`` indices.

    The permutation of epoch ``e`` depends only on ``seed + e`` (never on a global RNG), so a
    resumed run sees the same order. When ``dataset_size`` is not divisible by the number of
    ranks, the list is padded by wrapping around to its start: a few indices then appear on
    two ranks (evaluation de-duplicates predictions by dataset index).
    """

    def __init__(self, dataset_size: int, num_replicas: int = 1, rank: int = 0,
                 shuffle: bool = True, seed: int = 0) -> None:
        if dataset_size <= 0:
            raise ValueError("DistributedSampler needs a non-empty dataset")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside 0..{num_replicas - 1}")
        self.dataset_size = dataset_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.num_samples = math.ceil(dataset_size / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(self.dataset_size, generator=generator)
        else:
            indices = torch.arange(self.dataset_size)
        repeats = math.ceil(self.total_size / self.dataset_size)
        indices = indices.repeat(repeats)[: self.total_size]
        return iter(indices[self.rank: self.total_size: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples
