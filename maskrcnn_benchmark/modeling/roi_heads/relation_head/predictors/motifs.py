"""MotifPredictor: object and edge context BiLSTMs over left-to-right sorted objects (Zellers et
al., SGB's LSTMContext)."""

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
    make_pos_embed,
    onehot_logits,
    read_common_config,
    read_context_config,
    xavier_init,
)
from .motifs_decoder import DecoderRNN
from .sequences import SequenceBatch, left_to_right_order

__all__ = ["MotifPredictor", "LSTMContext"]


class LSTMContext(nn.Module):
    """Object context (BiLSTM + decoder) and edge context (BiLSTM) of Motifs.

    Objects of each image are sorted by box centre x, right to left as in SGB. The object
    BiLSTM reads [roi feature, class embedding, box embedding]; the decoder classifies the
    objects (not in PredCls; SGDet test commits labels by greedy per-class NMS); the edge
    BiLSTM reads [embedding of the committed label, roi feature, object context].
    """

    def __init__(
        self, *, task: SGGTask, obj_classes: Sequence[str], in_channels: int,
        embed_dim: int, hidden_dim: int, dropout_rate: float, num_obj_layers: int,
        num_rel_layers: int, glove_dir: str, later_nms_thresh: float,
    ) -> None:
        super().__init__()
        if num_obj_layers < 1 or num_rel_layers < 1:
            raise ValueError("CONTEXT_OBJ_LAYER and CONTEXT_REL_LAYER must be at least 1")
        self.task = task
        self.num_obj_classes = len(obj_classes)
        self.later_nms_thresh = later_nms_thresh
        self.obj_embed1 = glove_embedding(obj_classes, glove_dir, embed_dim)
        self.obj_embed2 = glove_embedding(obj_classes, glove_dir, embed_dim)
        self.pos_embed = make_pos_embed()
        obj_input_dim = in_channels + embed_dim + 128
        self.obj_ctx_rnn = nn.LSTM(
            input_size=obj_input_dim, hidden_size=hidden_dim, num_layers=num_obj_layers,
            dropout=dropout_rate if num_obj_layers > 1 else 0.0, bidirectional=True,
        )
        # Built in every task, as in SGB, so that checkpoints of every task share one layout.
        self.decoder_rnn = DecoderRNN(
            obj_classes=obj_classes, embed_dim=embed_dim, inputs_dim=obj_input_dim + hidden_dim,
            hidden_dim=hidden_dim, rnn_drop=dropout_rate, glove_dir=glove_dir,
        )
        self.edge_ctx_rnn = nn.LSTM(
            input_size=embed_dim + hidden_dim + in_channels, hidden_size=hidden_dim,
            num_layers=num_rel_layers, dropout=dropout_rate if num_rel_layers > 1 else 0.0,
            bidirectional=True,
        )
        self.lin_obj_h = nn.Linear(hidden_dim * 2, hidden_dim)
        self.lin_edge_h = nn.Linear(hidden_dim * 2, hidden_dim)

    def encode_objects(
        self, roi_features: Tensor, proposals: Sequence[BoxList]
    ) -> tuple[Tensor, SequenceBatch, Tensor]:
        """Object inputs [N, D], the left-to-right layout and the object context [N, H]."""
        obj_embed = embed_object_labels(self.obj_embed1, proposals, self.task)
        pos_embed = self.pos_embed(encode_box_info(proposals).to(roi_features))
        obj_pre_rep = torch.cat((roi_features, obj_embed, pos_embed), dim=-1)
        boxes = torch.cat([p.convert("xyxy").bbox for p in proposals], dim=0)
        centre_x = 0.5 * (boxes[:, 0] + boxes[:, 2])
        layout = SequenceBatch(left_to_right_order(centre_x, [len(p) for p in proposals]),
                               num_total=roi_features.shape[0])
        encoder_rep = self.lin_obj_h(layout.run_lstm(self.obj_ctx_rnn, obj_pre_rep))
        return obj_pre_rep, layout, encoder_rep

    def decode_objects(
        self, decoder_inp: Tensor, layout: SequenceBatch, proposals: Sequence[BoxList],
    ) -> tuple[Tensor, Tensor]:
        """Object logits [N, C] and committed labels [N] from [object inputs, context]."""
        if self.task is SGGTask.PREDCLS:
            labels = cat_field(proposals, "labels").long()
            return onehot_logits(labels, self.num_obj_classes), labels
        labels = cat_field(proposals, "labels") if self.training else None
        obj_dists, obj_preds = self.decoder_rnn(decoder_inp, layout, labels)
        if self.task is SGGTask.SGDET and not self.training:
            per_image = zip(obj_dists.split([len(p) for p in proposals]), proposals)
            obj_preds = torch.cat([
                greedy_label_nms(logits, p.get_field("boxes_per_cls"), self.later_nms_thresh)
                for logits, p in per_image
            ])
        return obj_dists, obj_preds

    def forward(
        self, roi_features: Tensor, proposals: Sequence[BoxList]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Return object logits [N, C], committed labels [N] and edge context [N, H]."""
        obj_pre_rep, layout, encoder_rep = self.encode_objects(roi_features, proposals)
        obj_dists, obj_preds = self.decode_objects(
            torch.cat((obj_pre_rep, encoder_rep), dim=1), layout, proposals)
        own = torch.cat((self.obj_embed2(obj_preds.long()), roi_features), dim=-1)
        return obj_dists, obj_preds, self.edge_context(own, encoder_rep, layout)

    def edge_context(self, own: Tensor, encoder_rep: Tensor, layout: SequenceBatch) -> Tensor:
        """Edge context [N, H] from each object's [label embedding, RoI feature] and context."""
        return self.lin_edge_h(
            layout.run_lstm(self.edge_ctx_rnn, torch.cat((own, encoder_rep), dim=-1)))


@RELATION_PREDICTORS.register("MotifPredictor")
class MotifPredictor(RelationPredictorBase):
    """Motifs: rel = rel_compress(post_cat([head_s, tail_o]) * union) + frequency bias."""

    def __init__(
        self, *, task: SGGTask, in_channels: int, num_obj_classes: int,
        num_rel_classes: int, hidden_dim: int, pooling_dim: int, union_dim: int,
        obj_classes: Sequence[str], embed_dim: int, glove_dir: str, use_bias: bool,
        pred_dist: Tensor | None, use_vision: bool, dropout_rate: float, num_obj_layers: int,
        num_rel_layers: int, later_nms_thresh: float,
    ) -> None:
        super().__init__(
            task=task, num_obj_classes=num_obj_classes, num_rel_classes=num_rel_classes,
            hidden_dim=hidden_dim, pooling_dim=pooling_dim, union_dim=union_dim,
        )
        self.use_vision = use_vision
        self.context_layer = LSTMContext(
            task=task, obj_classes=obj_classes, in_channels=in_channels, embed_dim=embed_dim,
            hidden_dim=hidden_dim, dropout_rate=dropout_rate, num_obj_layers=num_obj_layers,
            num_rel_layers=num_rel_layers, glove_dir=glove_dir, later_nms_thresh=later_nms_thresh,
        )
        self._build_decode(use_bias, pred_dist)
        self.rel_compress = xavier_init(nn.Linear(pooling_dim, num_rel_classes))

    @property
    def uses_union_features(self) -> bool:
        """Motifs multiplies by the union features only with PREDICT_USE_VISION."""
        return self.use_vision

    @classmethod
    def from_config(cls, cfg: Any, in_channels: int, statistics: Any) -> MotifPredictor:
        """Build from the config and the dataset statistics."""
        head = cfg.MODEL.ROI_RELATION_HEAD
        return cls(
            **read_common_config(cfg, in_channels),
            **read_context_config(cfg, statistics, bias_only=True),
            use_vision=head.PREDICT_USE_VISION, dropout_rate=head.CONTEXT_DROPOUT_RATE,
            num_obj_layers=head.CONTEXT_OBJ_LAYER, num_rel_layers=head.CONTEXT_REL_LAYER,
            later_nms_thresh=cfg.TEST.RELATION.LATER_NMS_PREDICTION_THRES,
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
        prod_rep = self.post_cat(prod_rep)
        if self.use_vision:
            prod_rep = prod_rep * self.project_union(union_features)
        rel_logits = self.add_frequency_bias(self.rel_compress(prod_rep), pair_preds)
        return PredictorOutput(obj_dists, obj_preds, rel_logits)
