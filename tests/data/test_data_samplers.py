"""Samplers: aspect grouping, iteration-based resume, distributed shards."""

import pytest
from torch.utils.data import BatchSampler, SequentialSampler

from maskrcnn_benchmark.data.samplers import (
    DistributedSampler,
    GroupedBatchSampler,
    IterationBasedBatchSampler,
)


def test_grouped_batches_hold_one_group_in_sampler_order():
    groups = [0, 1, 0, 0, 1, 1, 0]
    sampler = GroupedBatchSampler(SequentialSampler(range(7)), groups, batch_size=2)
    assert list(sampler) == [[0, 2], [1, 4], [3, 6], [5]]
    assert len(sampler) == 4
    dropped = GroupedBatchSampler(SequentialSampler(range(7)), groups, 2, drop_uneven=True)
    assert list(dropped) == [[0, 2], [1, 4], [3, 6]] and len(dropped) == 3


def test_grouped_batches_cover_a_shuffled_epoch():
    groups = [i % 3 == 0 for i in range(50)]
    sampler = GroupedBatchSampler(DistributedSampler(50, seed=4), groups, batch_size=4)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(50))
    assert all(len({groups[i] for i in b}) == 1 for b in batches)
    assert len(batches) == len(sampler) == 5 + 9  # ceil(17 / 4) + ceil(33 / 4)


def _iteration_batches(start_iter, num_iterations=23):
    groups = [i % 2 for i in range(13)]
    batches = GroupedBatchSampler(DistributedSampler(13, seed=7), groups, batch_size=3)
    return list(IterationBasedBatchSampler(batches, num_iterations, start_iter))


def test_resume_continues_the_same_batch_sequence():
    full = _iteration_batches(0)
    assert len(full) == 23  # spans several epochs of 5 batches
    for start in (1, 5, 11, 22):
        assert _iteration_batches(start) == full[start:]
    assert _iteration_batches(23) == []


def test_each_epoch_is_a_new_permutation():
    full = _iteration_batches(0, num_iterations=10)
    first = [i for b in full[:5] for i in b]
    second = [i for b in full[5:10] for i in b]
    assert sorted(first) == sorted(second) == list(range(13)) and first != second


def test_iteration_sampler_with_plain_batches_and_length():
    batches = BatchSampler(DistributedSampler(5, shuffle=False), 2, drop_last=False)
    sampler = IterationBasedBatchSampler(batches, 5, start_iter=2)
    assert list(sampler) == [[4], [0, 1], [2, 3]] and len(sampler) == 3


def test_empty_batch_sampler_is_an_error():
    with pytest.raises(ValueError, match="yields no batch"):
        list(IterationBasedBatchSampler(BatchSampler([], 2, False), 3))


def test_shards_are_disjoint_and_cover_when_divisible():
    shards = [list(DistributedSampler(12, 3, rank, seed=1)) for rank in range(3)]
    assert all(len(s) == 4 for s in shards)
    assert sorted(sum(shards, [])) == list(range(12))


def test_shards_are_equal_and_cover_when_not_divisible():
    shards = [list(DistributedSampler(10, 4, rank, seed=1)) for rank in range(4)]
    assert [len(s) for s in shards] == [3, 3, 3, 3]
    flat = sum(shards, [])
    assert set(flat) == set(range(10)) and len(flat) - len(set(flat)) == 2
    tiny = [list(DistributedSampler(2, 5, rank, shuffle=False)) for rank in range(5)]
    assert tiny == [[0], [1], [0], [1], [0]]


def test_shuffle_depends_on_seed_and_epoch_only():
    a, b = DistributedSampler(20, seed=3), DistributedSampler(20, seed=3)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b) and sorted(b) == list(range(20))
    assert list(DistributedSampler(6, shuffle=False)) == list(range(6))


def test_bad_rank_is_an_error():
    with pytest.raises(ValueError, match="rank 2 is outside 0..1"):
        DistributedSampler(5, 2, 2)
