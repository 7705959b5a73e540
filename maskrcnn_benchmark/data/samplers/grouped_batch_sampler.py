"""GroupedBatchSampler: batches whose images all come from one group (e.g. aspect ratio)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler

__all__ = ["GroupedBatchSampler"]


class GroupedBatchSampler(Sampler[list[int]]):
    """Batch the indices of ``sampler`` so that each batch holds a single group.

    Indices are taken in the sampler's order; a batch is emitted as soon as its group holds
    ``batch_size`` indices. Left-over partial batches come at the end (in order of their first
    index) unless ``drop_uneven``.
    """

    def __init__(self, sampler: Sampler[int], group_ids: Sequence[int], batch_size: int,
                 drop_uneven: bool = False) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.sampler = sampler
        self.group_ids = list(group_ids)
        self.batch_size = batch_size
        self.drop_uneven = drop_uneven

    def __iter__(self) -> Iterator[list[int]]:
        buffers: dict[int, list[int]] = {}
        for index in self.sampler:
            buffer = buffers.setdefault(self.group_ids[index], [])
            buffer.append(index)
            if len(buffer) == self.batch_size:
                yield list(buffer)
                buffer.clear()
        if not self.drop_uneven:
            leftovers = [b for b in buffers.values() if b]
            leftovers.sort(key=lambda b: b[0])
            yield from leftovers

    def __len__(self) -> int:
        counts: dict[int, int] = {}
        for index in self.sampler:
            group = self.group_ids[index]
            counts[group] = counts.get(group, 0) + 1
        if self.drop_uneven:
            return sum(n // self.batch_size for n in counts.values())
        return sum(-(-n // self.batch_size) for n in counts.values())
