"""TransformerPredictor: object and edge contexts from Transformer encoders (SGB)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask, encode_box_info

from ..object_nms import greedy_label_nms
from .base import (
    PredictorOutput,
    RelationPredictorBase,
    cat_field,
    embed_object_labels,
    glove_embedding,
    onehot_logits,
    read_common_config,
    read_context_config,
    xavier_init,
)
from .transformer_encoder import TransformerEncoder

__all__ = ["TransformerPredictor", "TransformerContext"]


class TransformerContext(nn.Module):
    """lin_obj([roi, class embedding, box embedding]) -> object encoder -> out_obj (not in
    PredCls; SGDet test commits labels by greedy per-class NMS, SGCls takes the argmax);
    lin_edge([roi, object context, embedding of the label]) -> edge encoder."""

    def __init__(
        self, *, task: SGGTask, obj_classes: Sequence[str], in_channels: int,
        embed_dim: int, hidden_dim: int, glove_dir: str, later_nms_thresh: float,
        dropout_rate: float, obj_layers: int, rel_layers: int, num_head: int, inner_dim: int,
        key_dim: int, val_dim: int,
    ) -> None:
        super().__init__()
        self.task = task
        self.num_obj_classes = len(obj_classes)
        self.later_nms_thresh = later_nms_thresh
        self.obj_embed1 = glove_embedding(obj_classes, glove_dir, embed_dim)
        self.obj_embed2 = glove_embedding(obj_classes, glove_dir, embed_dim)
        # SGB's Transformer box embedding: no BatchNorm, dropout 0.1 after each layer.
        self.bbox_embed = nn.Sequential(
            nn.Linear(9, 32), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(32, 128), nn.ReLU(), nn.Dropout(0.1),
        )
        self.lin_obj = nn.Linear(in_channels + embed_dim + 128, hidden_dim)
        self.lin_edge = nn.Linear(embed_dim + hidden_dim + in_channels, hidden_dim)
        self.out_obj = nn.Linear(hidden_dim, self.num_obj_classes)
        self.context_obj = TransformerEncoder(
            obj_layers, num_head, key_dim, val_dim, hidden_dim, inner_dim, dropout_rate)
        self.context_edge = TransformerEncoder(
            rel_layers, num_head, key_dim, val_dim, hidden_dim, inner_dim, dropout_rate)

    def forward(
        self, roi_features: Tensor, proposals: Sequence[BoxList]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Return object logits [N, C], committed labels [N] and edge context [N, H]."""
        num_objs = [len(p) for p in proposals]
        obj_embed = embed_object_labels(self.obj_embed1, proposals, self.task)
        pos_embed = self.bbox_embed(encode_box_info(proposals).to(roi_features))
        obj_pre_rep = self.lin_obj(torch.cat((roi_features, obj_embed, pos_embed), dim=-1))
        obj_feats = self.context_obj(obj_pre_rep, num_objs)
        if self.task is SGGTask.PREDCLS:
            obj_preds = cat_field(proposals, "labels").long()
            obj_dists = onehot_logits(obj_preds, self.num_obj_classes)
        else:
            obj_dists = self.out_obj(obj_feats)
            if self.task is SGGTask.SGDET and not self.training:
                obj_preds = torch.cat([
                    greedy_label_nms(logits, p.get_field("boxes_per_cls"), self.later_nms_thresh)
                    for logits, p in zip(obj_dists.split(num_objs), proposals)
                ])
            else:
                obj_preds = obj_dists[:, 1:].argmax(dim=1) + 1
        edge_pre_rep = torch.cat((roi_features, obj_feats, self.obj_embed2(obj_preds)), dim=-1)
        edge_ctx = self.context_edge(self.lin_edge(edge_pre_rep), num_objs)
        return obj_dists, obj_preds, edge_ctx


@RELATION_PREDICTORS.register("TransformerPredictor")
class TransformerPredictor(RelationPredictorBase):
    """rel = rel_compress(post_cat(prod) * union) + ctx_compress(prod) + frequency bias, with
    prod = [head_s, tail_o]. Without PREDICT_USE_VISION the union term is left out (SGB fails
    there)."""

    def __init__(
        self, *, task: SGGTask, in_channels: int, num_obj_classes: int,
        num_rel_classes: int, hidden_dim: int, pooling_dim: int, union_dim: int,
        obj_classes: Sequence[str], embed_dim: int, glove_dir: str, use_bias: bool,
        pred_dist: Tensor | None, use_vision: bool, later_nms_thresh: float, dropout_rate: float,
        obj_layers: int, rel_layers: int, num_head: int, inner_dim: int, key_dim: int,
        val_dim: int,
    ) -> None:
        super().__init__(
            task=task, num_obj_classes=num_obj_classes, num_rel_classes=num_rel_classes,
            hidden_dim=hidden_dim, pooling_dim=pooling_dim, union_dim=union_dim,
        )
        self.use_vision = use_vision
        self.context_layer = TransformerContext(
            task=task, obj_classes=obj_classes, in_channels=in_channels, embed_dim=embed_dim,
            hidden_dim=hidden_dim, glove_dir=glove_dir, later_nms_thresh=later_nms_thresh,
            dropout_rate=dropout_rate, obj_layers=obj_layers, rel_layers=rel_layers,
            num_head=num_head, inner_dim=inner_dim, key_dim=key_dim, val_dim=val_dim,
        )
        self._build_decode(use_bias, pred_dist)
        self.rel_compress = xavier_init(nn.Linear(pooling_dim, num_rel_classes))
        self.ctx_compress = xavier_init(nn.Linear(hidden_dim * 2, num_rel_classes))

    @property
    def uses_union_features(self) -> bool:
        """The union term is used only with PREDICT_USE_VISION."""
        return self.use_vision

    @classmethod
    def from_config(cls, cfg: Any, in_channels: int, statistics: Any) -> TransformerPredictor:
        """Build from the config and the dataset statistics."""
        head = cfg.MODEL.ROI_RELATION_HEAD
        tcfg = head.TRANSFORMER
        return cls(
            **read_common_config(cfg, in_channels),
            **read_context_config(cfg, statistics, bias_only=True),
            use_vision=head.PREDICT_USE_VISION,
            later_nms_thresh=cfg.TEST.RELATION.LATER_NMS_PREDICTION_THRES,
            dropout_rate=tcfg.DROPOUT_RATE, obj_layers=tcfg.OBJ_LAYER, rel_layers=tcfg.REL_LAYER,
            num_head=tcfg.NUM_HEAD, inner_dim=tcfg.INNER_DIM, key_dim=tcfg.KEY_DIM,
            val_dim=tcfg.VAL_DIM,
        )

    def forward(
        self,
        proposals: Sequence[BoxList],
        rel_pair_idxs: Sequence[Tensor],
        roi_features: Tensor,
        union_features: Tensor | None,
        rel_binarys: Sequence[Tensor] | None = None,
    ) -> PredictorOutput:
        """Score every pair from the edge contexts of its subject and object."""
        obj_dists, obj_preds, edge_ctx = self.context_layer(roi_features, proposals)
        prod_rep, pair_preds = self.pair_representation(
            edge_ctx, obj_preds, rel_pair_idxs, [len(p) for p in proposals])
        rel_logits = self.ctx_compress(prod_rep)
        if self.use_vision:
            visual = self.post_cat(prod_rep) * self.project_union(union_features)
            rel_logits = rel_logits + self.rel_compress(visual)
        rel_logits = self.add_frequency_bias(rel_logits, pair_preds)
        return PredictorOutput(obj_dists, obj_preds, rel_logits)
