"""Relation-head losses: predicate and refined-object cross-entropy (SGB)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.utils.comm import get_world_size, global_count

__all__ = ["RelationLossComputation"]

# SGB's Label_Smoothing_Regression uses e = 0.01; its target (1 - e) * onehot + e / C is exactly
# PyTorch's label_smoothing.
LABEL_SMOOTHING_EPS = 0.01


class RelationLossComputation:
    """Mean cross-entropy over all sampled pairs and over all objects of the global batch.

    Under DDP the mean is taken over every rank's pairs (objects), so training with N processes
    matches one process with the same global batch even when ranks hold different numbers of
    pairs (SGB averages per rank).
    """

    def __init__(self, use_label_smoothing: bool) -> None:
        self.label_smoothing = LABEL_SMOOTHING_EPS if use_label_smoothing else 0.0

    def _cross_entropy(self, logits: Tensor, targets: Tensor) -> Tensor:
        # Every rank takes part in the count's all-reduce, also with no pair in its batch.
        total = global_count(logits.shape[0], logits.device)
        if logits.shape[0] == 0 or total == 0:
            # No pair (or object) here: a zero that keeps the graph connected.
            return logits.sum() * 0.0
        summed = F.cross_entropy(logits, targets.long(), label_smoothing=self.label_smoothing,
                                 reduction="sum")
        return summed * (get_world_size() / total)

    def __call__(
        self,
        proposals: Sequence[BoxList],
        rel_labels: Sequence[Tensor],
        relation_logits: Sequence[Tensor],
        refine_logits: Sequence[Tensor],
    ) -> dict[str, Tensor]:
        """Return ``{"loss_rel", "loss_refine_obj"}`` (scalars) for one batch."""
        obj_labels = torch.cat([p.get_field("labels") for p in proposals], dim=0)
        return {
            "loss_rel": self._cross_entropy(torch.cat(list(relation_logits), dim=0),
                                            torch.cat(list(rel_labels), dim=0)),
            "loss_refine_obj": self._cross_entropy(torch.cat(list(refine_logits), dim=0),
                                                   obj_labels),
        }
