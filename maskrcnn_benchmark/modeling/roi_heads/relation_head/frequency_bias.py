"""Frequency bias: a trainable table of log p(predicate | subject class, object class)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FrequencyBias"]


class FrequencyBias(nn.Module):
    """Looks up predicate logits for (subject label, object label) pairs.

    The table ``obj_baseline`` (an ``nn.Embedding`` of C*C rows, SGB's name) is initialised with
    ``pred_dist`` [C, C, P] flattened so that row ``s * C + o`` belongs to the pair (s, o).
    """

    def __init__(self, pred_dist: Tensor) -> None:
        super().__init__()
        if pred_dist.dim() != 3 or pred_dist.shape[0] != pred_dist.shape[1]:
            raise ValueError(
                f"pred_dist must have shape [C, C, P] (subject x object x predicate), got "
                f"{tuple(pred_dist.shape)}"
            )
        if not torch.isfinite(pred_dist).all():
            raise ValueError("pred_dist holds NaN or inf values; recompute the dataset statistics")
        self.num_objs = int(pred_dist.shape[0])
        self.num_rels = int(pred_dist.shape[2])
        self.obj_baseline = nn.Embedding(self.num_objs * self.num_objs, self.num_rels)
        with torch.no_grad():
            self.obj_baseline.weight.copy_(pred_dist.reshape(-1, self.num_rels).float())

    def forward(self, pair_labels: Tensor) -> Tensor:
        """[K, 2] (subject, object) labels -> [K, P] predicate logits."""
        pair_labels = pair_labels.long()
        return self.obj_baseline(pair_labels[:, 0] * self.num_objs + pair_labels[:, 1])
