"""The typed result of the relation head, consumed by the post-processor and the energy loss."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import BoxList

__all__ = ["RelationHeadOutput"]


@dataclass
class RelationHeadOutput:
    """Per-image predictions of the relation head (see docs/ARCHITECTURE.md).

    Attributes:
        proposals: boxes the head scored, per image (training: ``labels`` = GT or GT-matched).
        rel_pair_idxs: [P_i, 2] long (subject, object) local indices per image.
        relation_logits: [P_i, R] raw predicate scores per image, column 0 = background.
        refine_logits: [N_i, C] object logits after refinement per image (PredCls: +/-1000).
        roi_features: [sum N_i, D] relation-head box features of ``proposals``.
        rel_labels: training only, [P_i] target predicate per pair (0 = background).
        target_roi_features: SGDet training with the energy loss on: [sum T_i, D] relation-head
            box features of the GT boxes.
    """

    proposals: list[BoxList]
    rel_pair_idxs: list[Tensor]
    relation_logits: list[Tensor]
    refine_logits: list[Tensor]
    roi_features: Tensor
    rel_labels: list[Tensor] | None
    target_roi_features: Tensor | None = None
