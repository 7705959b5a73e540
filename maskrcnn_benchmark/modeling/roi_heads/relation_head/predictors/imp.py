"""IMPPredictor: iterative message passing between object and relation GRU states (Xu et al.)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask

from .base import (
    PredictorOutput,
    RelationPredictorBase,
    cat_field,
    onehot_logits,
    read_common_config,
)

__all__ = ["IMPPredictor", "IMPContext"]

# Message-passing rounds of SGB's IMPContext.
NUM_ITERATIONS = 3


def _make_fc(dim_in: int, dim_out: int) -> nn.Linear:
    """maskrcnn-benchmark's make_fc: kaiming-uniform (a=1) weights, zero bias."""
    layer = nn.Linear(dim_in, dim_out)
    nn.init.kaiming_uniform_(layer.weight, a=1)
    nn.init.constant_(layer.bias, 0.0)
    return layer


def _gate(hidden_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(hidden_dim * 2, 1), nn.Sigmoid())


class IMPContext(nn.Module):
    """Object states (node GRU) and pair states (edge GRU) refine each other ``num_iter`` times.

    Edge input = sigma(w_s [h_s, e]) h_s + sigma(w_o [h_o, e]) h_o; node input = the sum over its
    outgoing pairs of sigma(w_out [h_s, e]) e plus over its incoming pairs of
    sigma(w_in [h_o, e]) e. Both updates of a round use the previous round's states.
    """

    def __init__(
        self, *, task: SGGTask, num_obj_classes: int, num_rel_classes: int,
        in_channels: int, pooling_dim: int, hidden_dim: int, num_iter: int = NUM_ITERATIONS,
    ) -> None:
        super().__init__()
        self.task = task
        self.num_obj_classes = num_obj_classes
        self.hidden_dim = hidden_dim
        self.num_iter = num_iter
        self.rel_fc = _make_fc(hidden_dim, num_rel_classes)
        self.obj_fc = _make_fc(hidden_dim, num_obj_classes)
        self.obj_unary = _make_fc(in_channels, hidden_dim)
        self.edge_unary = _make_fc(pooling_dim, hidden_dim)
        self.edge_gru = nn.GRUCell(input_size=hidden_dim, hidden_size=hidden_dim)
        self.node_gru = nn.GRUCell(input_size=hidden_dim, hidden_size=hidden_dim)
        self.sub_vert_w_fc = _gate(hidden_dim)
        self.obj_vert_w_fc = _gate(hidden_dim)
        self.out_edge_w_fc = _gate(hidden_dim)
        self.in_edge_w_fc = _gate(hidden_dim)

    def forward(
        self, roi_features: Tensor, proposals: Sequence[BoxList], union_features: Tensor,
        sub_idx: Tensor, obj_idx: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Return object logits [N, C] and relation logits [P, R]."""
        obj_rep = self.obj_unary(roi_features)
        rel_rep = F.relu(self.edge_unary(union_features))
        vert = self.node_gru(obj_rep, obj_rep.new_zeros(obj_rep.shape[0], self.hidden_dim))
        edge = self.edge_gru(rel_rep, rel_rep.new_zeros(rel_rep.shape[0], self.hidden_dim))
        for _ in range(self.num_iter):
            sub_vert, obj_vert = vert[sub_idx], vert[obj_idx]
            weighted_sub = self.sub_vert_w_fc(torch.cat((sub_vert, edge), 1)) * sub_vert
            weighted_obj = self.obj_vert_w_fc(torch.cat((obj_vert, edge), 1)) * obj_vert
            pre_out = self.out_edge_w_fc(torch.cat((sub_vert, edge), 1)) * edge
            pre_in = self.in_edge_w_fc(torch.cat((obj_vert, edge), 1)) * edge
            vert_ctx = torch.zeros_like(vert).index_add(0, sub_idx, pre_out.to(vert.dtype))
            vert_ctx = vert_ctx.index_add(0, obj_idx, pre_in.to(vert.dtype))
            edge = self.edge_gru(weighted_sub + weighted_obj, edge)
            vert = self.node_gru(vert_ctx, vert)
        if self.task is SGGTask.PREDCLS:
            obj_logits = onehot_logits(cat_field(proposals, "labels"), self.num_obj_classes)
        else:
            obj_logits = self.obj_fc(vert)
        return obj_logits, self.rel_fc(edge)


@RELATION_PREDICTORS.register("IMPPredictor")
class IMPPredictor(RelationPredictorBase):
    """SGB's IMPPredictor: no frequency bias, no GloVe; the relation head's feature extractors
    are slow heads (lr / 10). CONTEXT_HIDDEN_DIM sets the state width (SGB hard-codes 512,
    the default of that key)."""

    slow_heads = True

    def __init__(
        self, *, task: SGGTask, in_channels: int, num_obj_classes: int,
        num_rel_classes: int, hidden_dim: int, pooling_dim: int, union_dim: int,
    ) -> None:
        super().__init__(
            task=task, num_obj_classes=num_obj_classes, num_rel_classes=num_rel_classes,
            hidden_dim=hidden_dim, pooling_dim=pooling_dim, union_dim=union_dim,
        )
        self.context_layer = IMPContext(
            task=task, num_obj_classes=num_obj_classes, num_rel_classes=num_rel_classes,
            in_channels=in_channels, pooling_dim=pooling_dim, hidden_dim=hidden_dim,
        )
        self._build_union_projection()
        self.freq_bias = None

    @classmethod
    def from_config(cls, cfg: Any, in_channels: int, statistics: Any) -> IMPPredictor:
        """Build from the config (statistics are not used by IMP)."""
        return cls(**read_common_config(cfg, in_channels))

    def forward(
        self,
        proposals: Sequence[BoxList],
        rel_pair_idxs: Sequence[Tensor],
        roi_features: Tensor,
        union_features: Tensor | None,
        rel_binarys: Sequence[Tensor] | None = None,
    ) -> PredictorOutput:
        """Score every pair by message passing over the pairs of each image."""
        num_objs = [len(p) for p in proposals]
        sub_idx, obj_idx = self.global_pair_indices(rel_pair_idxs, num_objs)
        obj_logits, rel_logits = self.context_layer(
            roi_features, proposals, self.project_union(union_features), sub_idx, obj_idx)
        obj_preds = obj_logits[:, 1:].argmax(dim=1) + 1
        return PredictorOutput(obj_logits, obj_preds, rel_logits)
