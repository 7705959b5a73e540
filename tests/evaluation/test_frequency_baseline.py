"""The frequency-only baseline ranks every ordered GT pair by p(predicate | classes)."""

import torch

from maskrcnn_benchmark.evaluation.frequency_baseline import frequency_baseline_predictions
from maskrcnn_benchmark.structures import BoxList


class _Stats:
    def pred_dist(self):
        # 3 object classes (0 = background), 3 predicates (0 = background)
        table = torch.full((3, 3, 3), -10.0)
        table[1, 2] = torch.log(torch.tensor([0.2, 0.7, 0.1]))  # (1, 2) -> predicate 1
        table[2, 1] = torch.log(torch.tensor([0.1, 0.3, 0.6]))  # (2, 1) -> predicate 2
        table[1, 1] = torch.log(torch.tensor([0.8, 0.1, 0.1]))
        return table


class _Dataset:
    def __len__(self):
        return 2

    def get_groundtruth(self, index, evaluation=False):
        if index == 1:  # one box: only the (0, 0) placeholder
            gt = BoxList([[0, 0, 5, 5]], (20, 10))
            gt.add_field("labels", torch.tensor([1]))
            return gt
        gt = BoxList([[0, 0, 5, 5], [4, 4, 9, 9], [1, 1, 3, 3]], (20, 10))
        gt.add_field("labels", torch.tensor([1, 2, 1]))
        return gt


def test_pairs_scores_and_ranking():
    first, single = frequency_baseline_predictions(_Dataset(), _Stats())
    pairs = first.get_field("rel_pair_idxs").tolist()
    # best non-background probabilities: (0,1) 0.7, (2,1) 0.7, (1,0) 0.6, (1,2) 0.6,
    # (0,2) 0.1, (2,0) 0.1; stable sort keeps index order among ties
    assert pairs == [[0, 1], [2, 1], [1, 0], [1, 2], [0, 2], [2, 0]]
    assert first.get_field("pred_rel_labels").tolist() == [1, 1, 2, 2, 1, 1]
    assert torch.allclose(first.get_field("pred_rel_scores")[0], torch.tensor([0.2, 0.7, 0.1]))
    assert torch.equal(first.get_field("pred_scores"), torch.ones(3))
    assert single.get_field("rel_pair_idxs").tolist() == [[0, 0]]
