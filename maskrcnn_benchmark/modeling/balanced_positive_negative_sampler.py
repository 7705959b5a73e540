"""Random sampling of a fixed-size batch with a target fraction of positives, per image."""

import torch

__all__ = ["BalancedPositiveNegativeSampler"]


class BalancedPositiveNegativeSampler:
    """Sample at most ``batch_size_per_image`` elements, up to ``positive_fraction`` positive."""

    def __init__(self, batch_size_per_image: int, positive_fraction: float) -> None:
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction

    def __call__(
        self, labels: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """From per-image labels (-1 ignore, 0 negative, >= 1 positive) return bool masks.

        Returns two lists (positives, negatives) of boolean masks shaped like each label tensor.
        Missing positives are filled with negatives, as in maskrcnn-benchmark.
        """
        pos_masks, neg_masks = [], []
        for labels_per_image in labels:
            positive = torch.nonzero(labels_per_image >= 1).squeeze(1)
            negative = torch.nonzero(labels_per_image == 0).squeeze(1)

            num_pos = min(positive.numel(), int(self.batch_size_per_image * self.positive_fraction))
            num_neg = min(negative.numel(), self.batch_size_per_image - num_pos)

            pos_pick = positive[torch.randperm(positive.numel(), device=positive.device)[:num_pos]]
            neg_pick = negative[torch.randperm(negative.numel(), device=negative.device)[:num_neg]]

            pos_mask = torch.zeros_like(labels_per_image, dtype=torch.bool)
            neg_mask = torch.zeros_like(labels_per_image, dtype=torch.bool)
            pos_mask[pos_pick] = True
            neg_mask[neg_pick] = True
            pos_masks.append(pos_mask)
            neg_masks.append(neg_mask)
        return pos_masks, neg_masks
