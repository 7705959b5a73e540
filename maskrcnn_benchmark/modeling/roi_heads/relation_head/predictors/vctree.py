"""VCTreePredictor: contexts from bidirectional tree LSTMs over a learned tree (Tang et al.)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask, encode_box_info

from ..box_encoding import box_overlap_info
from ..glove import class_name_vectors
from ..recurrent_dropout import draw_dropout_mask
from ..tree_lstm import DownwardTreeLSTM, MultiLayerBiTreeLSTM
from ..vctree_tree import BinaryForest, build_binary_forest
from .base import (
    BatchNorm1dAnyBatch,
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

__all__ = ["VCTreePredictor", "VCTreeLSTMContext", "DecoderTreeLSTM"]


def _embed_bn_relu(dim_in: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim_in, 128), BatchNorm1dAnyBatch(128, momentum=0.001),
                         nn.ReLU())


class DecoderTreeLSTM(nn.Module):
    """Root-to-leaves object decoder. ``obj_embed`` / ``out`` are shared with ``decoderLSTM``
    (SGB saves them under both names)."""

    def __init__(self, *, obj_classes: Sequence[str], embed_dim: int, inputs_dim: int,
                 hidden_dim: int, dropout: float, glove_dir: str) -> None:
        super().__init__()
        self.hidden_size = hidden_dim
        self.dropout = dropout
        self.obj_embed = nn.Embedding(len(obj_classes) + 1, embed_dim)
        with torch.no_grad():
            self.obj_embed.weight.copy_(
                class_name_vectors(["start", *obj_classes], glove_dir, embed_dim))
        self.out = nn.Linear(hidden_dim, len(obj_classes))
        self.decoderLSTM = DownwardTreeLSTM(inputs_dim + embed_dim, hidden_dim,
                                            embed_layer=self.obj_embed, embed_out_layer=self.out)

    def forward(self, features: Tensor, forest: BinaryForest, num_images: int
                ) -> tuple[Tensor, Tensor]:
        """Return object logits [N, C] and labels [N]."""
        mask = None
        if self.training and self.dropout > 0.0:
            mask = draw_dropout_mask(self.dropout, num_images, self.hidden_size, features.device)
        return self.decoderLSTM.decode(features, forest, mask)


class VCTreeLSTMContext(nn.Module):
    """Tree scorer, tree construction and the object / edge tree-LSTM contexts of VCTree.

    Tree scorer: for the pair (i, j) of an image (rows i use the "obj" branch, columns j the
    "sub" branch, as in SGB), co_prior = p_i^T W p_j with W the trainable C x C co-occurrence
    prior ``bi_freq_prior`` and p the softmax of the detached object logits; the pair logit is
    sigmoid(vision_prior([sub_j * obj_i, sub_j, obj_i, co_prior])) * co_prior, trained with
    BCE against the symmetric GT relatedness matrix ("binary loss"); the tree uses its sigmoid.
    """

    def __init__(
        self, *, task: SGGTask, obj_classes: Sequence[str], in_channels: int,
        embed_dim: int, hidden_dim: int, dropout_rate: float, num_obj_layers: int,
        num_rel_layers: int, glove_dir: str, pred_dist: Tensor,
    ) -> None:
        super().__init__()
        if num_obj_layers < 1 or num_rel_layers < 1:
            raise ValueError("CONTEXT_OBJ_LAYER and CONTEXT_REL_LAYER must be at least 1")
        self.task = task
        num_classes = len(obj_classes)
        self.num_obj_classes = num_classes
        self.obj_embed1 = glove_embedding(obj_classes, glove_dir, embed_dim)
        self.obj_embed2 = glove_embedding(obj_classes, glove_dir, embed_dim)
        self.pos_embed = make_pos_embed()
        self.overlap_embed = _embed_bn_relu(6)
        self.box_embed = _embed_bn_relu(9)
        # SGB initialises the prior with the symmetrised sum over predicates of pred_dist.
        co_occurrence = pred_dist.float().sum(-1)
        self.bi_freq_prior = nn.Linear(num_classes * num_classes, 1, bias=False)
        with torch.no_grad():
            self.bi_freq_prior.weight.copy_((co_occurrence + co_occurrence.T).reshape(1, -1))
        self.obj_reduce = xavier_init(nn.Linear(in_channels, 128))
        self.emb_reduce = xavier_init(nn.Linear(embed_dim, 128))
        self.score_pre = xavier_init(nn.Linear(128 * 4, hidden_dim))
        self.score_sub = xavier_init(nn.Linear(hidden_dim, hidden_dim))
        self.score_obj = xavier_init(nn.Linear(hidden_dim, hidden_dim))
        self.vision_prior = nn.Linear(hidden_dim * 3 + 1, 1)
        obj_input_dim = in_channels + embed_dim + 128
        self.obj_ctx_rnn = MultiLayerBiTreeLSTM(
            obj_input_dim, hidden_dim, num_obj_layers,
            dropout_rate if num_obj_layers > 1 else 0.0)
        # Built in every task, as in SGB, so that checkpoints of every task share one layout.
        self.decoder_rnn = DecoderTreeLSTM(
            obj_classes=obj_classes, embed_dim=embed_dim, inputs_dim=obj_input_dim + hidden_dim,
            hidden_dim=hidden_dim, dropout=dropout_rate, glove_dir=glove_dir)
        self.edge_ctx_rnn = MultiLayerBiTreeLSTM(
            embed_dim + hidden_dim + in_channels, hidden_dim, num_rel_layers,
            dropout_rate if num_rel_layers > 1 else 0.0)

    def pair_scores(self, bi_inp: Tensor, obj_logits: Tensor, num_objs: Sequence[int]
                    ) -> list[Tensor]:
        """Per image, the [n, n] pair logits of the tree scorer."""
        dist = torch.softmax(obj_logits.detach(), dim=-1)
        roi = F.relu(self.score_pre(bi_inp))
        sub, obj = F.relu(self.score_sub(roi)), F.relu(self.score_obj(roi))
        hid = sub.shape[1]
        prior = self.bi_freq_prior.weight.view(self.num_obj_classes, self.num_obj_classes)
        weight, bias = self.vision_prior.weight[0], self.vision_prior.bias
        w_prod, w_sub, w_obj, w_co = (weight[:hid], weight[hid:2 * hid], weight[2 * hid:3 * hid],
                                      weight[3 * hid])
        logits = []
        for d, s, o in zip(dist.split(num_objs), sub.split(num_objs), obj.split(num_objs)):
            co_prior = d @ prior @ d.T  # [i, j] = sum_ab p_i[a] W[a, b] p_j[b]
            # vision_prior on [sub_j * obj_i, sub_j, obj_i, co_ij], expanded by linearity.
            vis_prior = ((o * w_prod) @ s.T + (s @ w_sub)[None, :] + (o @ w_obj)[:, None]
                         + w_co * co_prior + bias)
            logits.append(torch.sigmoid(vis_prior) * co_prior)
        return logits

    def encode_objects(self, roi_features: Tensor, proposals: Sequence[BoxList]
                       ) -> tuple[Tensor, Tensor, list[Tensor], Any, Tensor]:
        """Object inputs [N, D], the prior object logits [N, C] (PredCls: one-hot labels), the
        tree scorer's pair logits, the forest and the object context [N, H]."""
        num_objs = [len(p) for p in proposals]
        obj_embed = embed_object_labels(self.obj_embed1, proposals, self.task)
        if self.task is SGGTask.PREDCLS:
            prior_logits = onehot_logits(cat_field(proposals, "labels").long(),
                                         self.num_obj_classes)
        else:
            prior_logits = cat_field(proposals, "predict_logits")
        box_info = encode_box_info(proposals).to(roi_features)
        obj_pre_rep = torch.cat((roi_features, obj_embed, self.pos_embed(box_info)), dim=-1)
        bi_inp = torch.cat((
            self.obj_reduce(roi_features.detach()), self.emb_reduce(obj_embed.detach()),
            self.box_embed(box_info), self.overlap_embed(box_overlap_info(proposals).to(box_info)),
        ), dim=-1)
        pair_logits = self.pair_scores(bi_inp, prior_logits, num_objs)
        forest = build_binary_forest([torch.sigmoid(x) for x in pair_logits], roi_features.device)
        obj_ctx = self.obj_ctx_rnn(obj_pre_rep, forest, len(proposals))
        return obj_pre_rep, prior_logits, pair_logits, forest, obj_ctx

    def decode_objects(self, decoder_inp: Tensor, prior_logits: Tensor, forest: Any,
                       num_images: int) -> tuple[Tensor, Tensor]:
        """Object logits [N, C] and labels [N] (PredCls: the given labels)."""
        if self.task is SGGTask.PREDCLS:
            return prior_logits, prior_logits.argmax(dim=1)
        return self.decoder_rnn(decoder_inp, forest, num_images)

    def forward(self, roi_features: Tensor, proposals: Sequence[BoxList]
                ) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
        """Return object logits [N, C], labels [N], edge context [N, H] and pair logits."""
        obj_pre_rep, prior_logits, pair_logits, forest, obj_ctx = self.encode_objects(
            roi_features, proposals)
        obj_dists, obj_preds = self.decode_objects(
            torch.cat((obj_pre_rep, obj_ctx), dim=1), prior_logits, forest, len(proposals))
        obj_rel_rep = torch.cat((self.obj_embed2(obj_preds), roi_features, obj_ctx), dim=-1)
        edge_ctx = self.edge_ctx_rnn(obj_rel_rep, forest, len(proposals))
        return obj_dists, obj_preds, edge_ctx, pair_logits


@RELATION_PREDICTORS.register("VCTreePredictor")
class VCTreePredictor(RelationPredictorBase):
    """rel = ctx_compress(post_cat(relu(post_emb) pairs) * union) + frequency bias; the tree
    scorer is trained by the extra loss ``loss_binary`` (SGB's binary_loss; no REINFORCE)."""

    def __init__(
        self, *, task: SGGTask, in_channels: int, num_obj_classes: int,
        num_rel_classes: int, hidden_dim: int, pooling_dim: int, union_dim: int,
        obj_classes: Sequence[str], embed_dim: int, glove_dir: str, use_bias: bool,
        pred_dist: Tensor, dropout_rate: float, num_obj_layers: int, num_rel_layers: int,
    ) -> None:
        super().__init__(
            task=task, num_obj_classes=num_obj_classes, num_rel_classes=num_rel_classes,
            hidden_dim=hidden_dim, pooling_dim=pooling_dim, union_dim=union_dim,
        )
        self.context_layer = VCTreeLSTMContext(
            task=task, obj_classes=obj_classes, in_channels=in_channels, embed_dim=embed_dim,
            hidden_dim=hidden_dim, dropout_rate=dropout_rate, num_obj_layers=num_obj_layers,
            num_rel_layers=num_rel_layers, glove_dir=glove_dir, pred_dist=pred_dist,
        )
        self._build_decode(use_bias, pred_dist)
        self.ctx_compress = xavier_init(nn.Linear(pooling_dim, num_rel_classes))

    @classmethod
    def from_config(cls, cfg: Any, in_channels: int, statistics: Any) -> VCTreePredictor:
        """Build from the config and the dataset statistics."""
        head = cfg.MODEL.ROI_RELATION_HEAD
        return cls(
            **read_common_config(cfg, in_channels), **read_context_config(cfg, statistics),
            dropout_rate=head.CONTEXT_DROPOUT_RATE, num_obj_layers=head.CONTEXT_OBJ_LAYER,
            num_rel_layers=head.CONTEXT_REL_LAYER,
        )

    def _fuse_and_compress(self, pair_rep: Tensor, union_rep: Tensor) -> Tensor:
        """ctx_compress(pair_rep * union_rep), in float32 with autocast off.

        Both factors are unbounded ReLU-MLP outputs; their product exceeds float16's range
        (65504) as soon as both reach about 256, which an untrained or badly scaled detector
        gives (features around 1e3: every pair logit was NaN under float16 autocast). The
        [P, POOLING_DIM] x [POOLING_DIM, R] projection is a small part of the head's cost.
        """
        with torch.autocast(pair_rep.device.type, enabled=False):
            weight, bias = self.ctx_compress.weight, self.ctx_compress.bias
            return F.linear(pair_rep.float() * union_rep.float(), weight.float(), bias.float())

    def forward(
        self,
        proposals: Sequence[BoxList],
        rel_pair_idxs: Sequence[Tensor],
        roi_features: Tensor,
        union_features: Tensor | None,
        rel_binarys: Sequence[Tensor] | None = None,
    ) -> PredictorOutput:
        """Score every pair; in training also return the tree scorer's binary loss."""
        obj_dists, obj_preds, edge_ctx, pair_logits = self.context_layer(roi_features, proposals)
        prod_rep, pair_preds = self.pair_representation(
            edge_ctx, obj_preds, rel_pair_idxs, [len(p) for p in proposals],
            relu_after_post_emb=True)
        rel_logits = self.add_frequency_bias(
            self._fuse_and_compress(self.post_cat(prod_rep), self.project_union(union_features)),
            pair_preds)
        losses = {}
        if self.training and rel_binarys is not None:
            per_image = [F.binary_cross_entropy_with_logits(logits, (target > 0).float())
                         for logits, target in zip(pair_logits, rel_binarys) if len(target)]
            losses["loss_binary"] = (torch.stack(per_image).mean() if per_image
                                     else edge_ctx.sum() * 0.0)
        return PredictorOutput(obj_dists, obj_preds, rel_logits, losses)
