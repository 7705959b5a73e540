"""What every relation predictor shares: the pair decode, union projection and frequency bias."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask

from ..frequency_bias import FrequencyBias
from ..glove import class_name_vectors

__all__ = [
    "BatchNorm1dAnyBatch",
    "PredictorOutput",
    "RelationPredictorBase",
    "cat_field",
    "embed_object_labels",
    "glove_embedding",
    "make_pos_embed",
    "onehot_logits",
    "xavier_init",
    "read_common_config",
    "read_context_config",
]

# SGB's to_onehot fill: PredCls object "logits" are -1000 / +1000 (softmax = exact one-hot).
ONEHOT_FILL = 1000.0


@dataclass
class PredictorOutput:
    """Predictor result over the whole batch (images concatenated in order)."""

    obj_logits: Tensor  # [sum N_i, C] refined object logits
    obj_preds: Tensor  # [sum N_i] labels the relation scores were conditioned on
    relation_logits: Tensor  # [sum P_i, R]
    losses: dict[str, Tensor] = field(default_factory=dict)  # predictor extras (loss_* keys)


def onehot_logits(labels: Tensor, num_classes: int) -> Tensor:
    """[N] labels -> [N, C] "logits" of -1000 everywhere and +1000 at the label (SGB)."""
    out = torch.full((labels.shape[0], num_classes), -ONEHOT_FILL, device=labels.device)
    out[torch.arange(labels.shape[0], device=labels.device), labels.long()] = ONEHOT_FILL
    return out


def cat_field(proposals: Sequence[BoxList], name: str) -> Tensor:
    """Concatenate one field over the images of a batch."""
    return torch.cat([p.get_field(name) for p in proposals], dim=0)


def embed_object_labels(
    embedding: nn.Embedding, proposals: Sequence[BoxList], task: SGGTask
) -> Tensor:
    """Class embedding of each box: of its GT label (PredCls) or the detector's softmax-weighted
    mix of all class embeddings (SGCls / SGDet; the detector logits are detached)."""
    if task is SGGTask.PREDCLS:
        return embedding(cat_field(proposals, "labels").long())
    logits = cat_field(proposals, "predict_logits").detach()
    return F.softmax(logits, dim=1) @ embedding.weight


def glove_embedding(names: Sequence[str], glove_dir: str, embed_dim: int) -> nn.Embedding:
    """An embedding with one row per name, initialised from GloVe (see ``glove.py``)."""
    embedding = nn.Embedding(len(names), embed_dim)
    with torch.no_grad():
        embedding.weight.copy_(class_name_vectors(names, glove_dir, embed_dim))
    return embedding


class BatchNorm1dAnyBatch(nn.BatchNorm1d):
    """BatchNorm1d that also accepts a training batch of 0 or 1 rows (an image with one box):
    such a batch has no variance, so it is normalised with the running statistics."""

    def forward(self, x: Tensor) -> Tensor:
        """Normalise [N, C]."""
        if self.training and x.shape[0] <= 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        return super().forward(x)


def make_pos_embed() -> nn.Sequential:
    """SGB's box-geometry embedding of Motifs and VCTree: 9 -> 32 (BatchNorm) -> 128, ReLU."""
    return nn.Sequential(
        nn.Linear(9, 32), BatchNorm1dAnyBatch(32, momentum=0.001), nn.Linear(32, 128), nn.ReLU(),
    )


def xavier_init(layer: nn.Linear) -> nn.Linear:
    """SGB's layer_init(xavier=True): xavier-normal weights, zero bias."""
    nn.init.xavier_normal_(layer.weight, gain=1.0)
    nn.init.constant_(layer.bias, 0.0)
    return layer


def read_common_config(cfg: Any, in_channels: int) -> dict[str, Any]:
    """Plain values every predictor's ``from_config`` needs."""
    head = cfg.MODEL.ROI_RELATION_HEAD
    return {
        "task": SGGTask.from_flags(head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL),
        "in_channels": in_channels,
        "num_obj_classes": cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES,
        "num_rel_classes": head.NUM_CLASSES,
        "hidden_dim": head.CONTEXT_HIDDEN_DIM,
        "pooling_dim": head.CONTEXT_POOLING_DIM,
        "union_dim": cfg.MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM,
    }


def read_context_config(cfg: Any, statistics: Any, bias_only: bool = False) -> dict[str, Any]:
    """Plain values of the GloVe-initialised context encoders (Motifs, VCTree, Transformer).

    ``bias_only``: the predictor reads ``pred_dist`` only for the frequency bias, so without
    PREDICT_USE_BIAS it gets None and the dense [C, C, P] table is never built (GQA's would be
    1704 x 1704 x 311, tens of GB while it is computed).
    """
    head = cfg.MODEL.ROI_RELATION_HEAD
    needed = head.PREDICT_USE_BIAS or not bias_only
    return {
        "obj_classes": list(statistics.obj_classes),
        "embed_dim": head.EMBED_DIM,
        "glove_dir": cfg.GLOVE_DIR,
        "use_bias": head.PREDICT_USE_BIAS,
        "pred_dist": statistics.pred_dist() if needed else None,
    }


class RelationPredictorBase(nn.Module):
    """Base of the registered predictors.

    Subclasses build ``context_layer`` and call ``_build_decode`` for the layers they share
    (SGB names: ``post_emb``, ``post_cat``, ``up_dim``, ``freq_bias``). Their ``forward`` is
    ``forward(proposals, rel_pair_idxs, roi_features, union_features, rel_binarys=None) ->
    PredictorOutput`` with ``rel_binarys`` (the sampler's relatedness matrices) in training only.

    Class attributes:
        slow_heads: True when SGB trains the relation head's feature extractors of this
            predictor at a tenth of the learning rate (IMP).
        needs_rel_labels: True when ``forward`` also takes ``rel_labels`` (the sampled
            predicate targets, training only) as a keyword (the causal head's auxiliary losses).
    """

    slow_heads: bool = False
    needs_rel_labels: bool = False

    def __init__(
        self,
        *,
        task: SGGTask,
        num_obj_classes: int,
        num_rel_classes: int,
        hidden_dim: int,
        pooling_dim: int,
        union_dim: int,
    ) -> None:
        super().__init__()
        self.task = task
        self.num_obj_classes = num_obj_classes
        self.num_rel_classes = num_rel_classes
        self.hidden_dim = hidden_dim
        self.pooling_dim = pooling_dim
        self.union_dim = union_dim

    @property
    def uses_union_features(self) -> bool:
        """Whether the head must extract union-box features for this predictor."""
        return True

    def _build_decode(self, use_bias: bool, pred_dist: Tensor | None) -> None:
        """post_emb (H -> 2H, normal(0, 10/sqrt(H))), post_cat (2H -> pooling), the union
        projection ``up_dim`` when CONTEXT_POOLING_DIM != MLP_HEAD_DIM, and the frequency bias."""
        self.post_emb = nn.Linear(self.hidden_dim, self.hidden_dim * 2)
        nn.init.normal_(self.post_emb.weight, mean=0.0, std=10.0 * (1.0 / self.hidden_dim) ** 0.5)
        nn.init.constant_(self.post_emb.bias, 0.0)
        self.post_cat = xavier_init(nn.Linear(self.hidden_dim * 2, self.pooling_dim))
        self._build_union_projection()
        self.freq_bias = FrequencyBias(pred_dist) if use_bias else None

    def _build_union_projection(self) -> None:
        if self.pooling_dim != self.union_dim:
            self.up_dim = xavier_init(nn.Linear(self.union_dim, self.pooling_dim))
        else:
            self.up_dim = None

    def project_union(self, union_features: Tensor) -> Tensor:
        """Union features in the pooling width (``up_dim`` when the widths differ)."""
        return union_features if self.up_dim is None else self.up_dim(union_features)

    @staticmethod
    def global_pair_indices(
        rel_pair_idxs: Sequence[Tensor], num_objs: Sequence[int]
    ) -> tuple[Tensor, Tensor]:
        """Subject and object indices of every pair into the concatenated object list."""
        offsets = [0, *itertools.accumulate(num_objs)]
        flat = torch.cat([p + off for p, off in zip(rel_pair_idxs, offsets)], dim=0).long()
        return flat[:, 0], flat[:, 1]

    def pair_representation(
        self,
        edge_ctx: Tensor,
        obj_preds: Tensor,
        rel_pair_idxs: Sequence[Tensor],
        num_objs: Sequence[int],
        relu_after_post_emb: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """post_emb -> head/tail halves -> [head[s], tail[o]] per pair ([P, 2H]) and the
        (subject, object) labels of each pair ([P, 2])."""
        edge_rep = self.post_emb(edge_ctx)
        if relu_after_post_emb:
            edge_rep = F.relu(edge_rep)
        edge_rep = edge_rep.view(edge_rep.size(0), 2, self.hidden_dim)
        sub_idx, obj_idx = self.global_pair_indices(rel_pair_idxs, num_objs)
        prod_rep = torch.cat((edge_rep[sub_idx, 0], edge_rep[obj_idx, 1]), dim=-1)
        pair_preds = torch.stack((obj_preds[sub_idx], obj_preds[obj_idx]), dim=1)
        return prod_rep, pair_preds

    def add_frequency_bias(self, relation_logits: Tensor, pair_preds: Tensor) -> Tensor:
        """Add log p(predicate | subject label, object label) when the bias is on."""
        if self.freq_bias is None:
            return relation_logits
        return relation_logits + self.freq_bias(pair_preds)
