"""IterationBasedBatchSampler: a fixed number of batches, re-iterating the batch sampler."""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import Sampler

__all__ = ["IterationBasedBatchSampler"]


class IterationBasedBatchSampler(Sampler[list[int]]):
    """Yield the batches of iterations ``start_iter .. num_iterations - 1``.

    Pass ``e`` over the wrapped batch sampler uses epoch ``e`` of its sampler (``set_epoch``).
    Batches before ``start_iter`` are generated and skipped (indices only, no image is read),
    so a run resumed at iteration ``t`` sees exactly the batches an uninterrupted run saw
    from ``t`` on.
    """

    def __init__(self, batch_sampler: Sampler[list[int]], num_iterations: int,
                 start_iter: int = 0) -> None:
        self.batch_sampler = batch_sampler
        self.num_iterations = num_iterations
        self.start_iter = start_iter

    def __iter__(self) -> Iterator[list[int]]:
        iteration, epoch = 0, 0
        while iteration < self.num_iterations:
            sampler = getattr(self.batch_sampler, "sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            produced = False
            for batch in self.batch_sampler:
                produced = True
                if iteration >= self.num_iterations:
                    return
                if iteration >= self.start_iter:
                    yield batch
                iteration += 1
            if not produced:
                raise ValueError("IterationBasedBatchSampler: the batch sampler yields no batch")
            epoch += 1

    def __len__(self) -> int:
        return max(self.num_iterations - self.start_iter, 0)
