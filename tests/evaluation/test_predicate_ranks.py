"""Ranks of one predicate's GT relations in a run's triplet list, against hand counts."""

import torch

from maskrcnn_benchmark.evaluation.predicate_ranks import PredicateRanks, predicate_ranks


def test_counts_by_hand():
    # image 0: GT (0, 1, 2) ranked first, listed 2, head argmax 2 -> a hit, foreground;
    #          GT (1, 0, 2) ranked third, listed 2, argmax background -> a hit that is a filler
    #          GT (0, 2, 1) another predicate -> ignored
    # image 1: GT (2, 0, 2) ranked second but listed 1 (no hit), argmax background;
    #          GT (0, 1, 2) not scored at all
    gt = [torch.tensor([[0, 1, 2], [1, 0, 2], [0, 2, 1]]), torch.tensor([[2, 0, 2], [0, 1, 2]])]
    pairs = [torch.tensor([[0, 1], [0, 2], [1, 0]]), torch.tensor([[1, 2], [2, 0]])]
    labels = [torch.tensor([2, 1, 2]), torch.tensor([1, 1])]
    scores = [torch.tensor([[0.1, 0.2, 0.7], [0.2, 0.7, 0.1], [0.6, 0.1, 0.3]]),
              torch.tensor([[0.1, 0.8, 0.1], [0.5, 0.3, 0.2]])]
    assert predicate_ranks(gt, pairs, labels, scores, predicate=2, top_k=3) == \
        PredicateRanks(gt=4, in_top=3, hit_top=2, background=2, hit_top_background=1)
    # top 2: the third-ranked filler falls out, the second-ranked non-hit stays
    assert predicate_ranks(gt, pairs, labels, scores, predicate=2, top_k=2) == \
        PredicateRanks(gt=4, in_top=2, hit_top=1, background=2, hit_top_background=0)
