"""Relation-head losses: predicate and refined-object cross-entropy (SGB), with optional label
smoothing (SGB's LABEL_SMOOTHING_LOSS) and a confidence penalty on the predicate distribution
(Pereyra et al. 2017, CONFIDENCE_PENALTY), the baselines that make predictions softer without
any structure."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.utils.comm import get_world_size, global_count

__all__ = ["RelationLossComputation"]

# SGB's Label_Smoothing_Regression uses e = 0.01; its target (1 - e) * onehot + e / C is exactly
# PyTorch's label_smoothing (MODEL.ROI_RELATION_HEAD.LABEL_SMOOTHING_EPSILON, default 0.01).
LABEL_SMOOTHING_EPS = 0.01


class RelationLossComputation:
    """Mean cross-entropy over all sampled pairs and over all objects of the global batch.

    Under DDP the mean is taken over every rank's pairs (objects), so training with N processes
    matches one process with the same global batch even when ranks hold different numbers of
    pairs (SGB averages per rank).
    """

    def __init__(self, use_label_smoothing: bool, *,
                 label_smoothing_epsilon: float = LABEL_SMOOTHING_EPS,
                 confidence_penalty: float = 0.0) -> None:
        if not 0.0 <= label_smoothing_epsilon < 1.0:
            raise ValueError("MODEL.ROI_RELATION_HEAD.LABEL_SMOOTHING_EPSILON must lie in [0, 1), "
                             f"got {label_smoothing_epsilon}")
        if confidence_penalty < 0.0:
            raise ValueError("MODEL.ROI_RELATION_HEAD.CONFIDENCE_PENALTY must be >= 0, got "
                             f"{confidence_penalty}")
        self.label_smoothing = label_smoothing_epsilon if use_label_smoothing else 0.0
        self.confidence_penalty = confidence_penalty

    def _cross_entropy(self, logits: Tensor, targets: Tensor, penalty: float = 0.0) -> Tensor:
        """Global-batch mean of CE - ``penalty`` * entropy of softmax(logits)."""
        # Every rank takes part in the count's all-reduce, also with no pair in its batch.
        total = global_count(logits.shape[0], logits.device)
        if logits.shape[0] == 0 or total == 0:
            # No pair (or object) here: a zero that keeps the graph connected.
            return logits.sum() * 0.0
        summed = F.cross_entropy(logits, targets.long(), label_smoothing=self.label_smoothing,
                                 reduction="sum")
        if penalty > 0.0:
            log_probs = F.log_softmax(logits.float(), dim=-1)
            entropy = -(log_probs.exp() * log_probs).sum()
            summed = summed - penalty * entropy
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
                                            torch.cat(list(rel_labels), dim=0),
                                            self.confidence_penalty),
            "loss_refine_obj": self._cross_entropy(torch.cat(list(refine_logits), dim=0),
                                                   obj_labels),
        }
