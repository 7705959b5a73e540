"""Context encoders of the causal head with the "untreated" inputs of the counterfactual.

Each encoder keeps, in training and with ``effect_analysis``, moving averages of its inputs
(SGB's buffers ``untreated_obj_feat``, ``untreated_edg_feat`` and, for Motifs / VCTree,
``untreated_dcd_feat``). At test, ``forward(..., with_untreated=True)`` also returns the
counterfactual pass in which every object's own input is replaced by those averages (SGB's
``ctx_average=True``): the object context of the factual pass is kept, the decoder input and
the [label embedding, roi feature] part of the edge input are the averages. Both passes share
one tree / ordering, which is deterministic at test, so one call computes both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask, encode_box_info

from .base import (
    cat_field,
    embed_object_labels,
    glove_embedding,
    make_pos_embed,
    onehot_logits,
)
from .motifs import LSTMContext
from .vctree import VCTreeLSTMContext

__all__ = [
    "AVERAGE_RATIO",
    "CausalContextOutput",
    "CausalMotifsContext",
    "CausalVCTreeContext",
    "VTransEContext",
    "update_moving_average",
]

# SGB's average_ratio of every untreated-feature moving average.
AVERAGE_RATIO = 0.0005


def update_moving_average(holder: Tensor, values: Tensor, ratio: float = AVERAGE_RATIO) -> None:
    """holder <- (1 - ratio) * holder + ratio * mean over rows of ``values`` (in place, no
    gradient). A batch without rows leaves the holder unchanged (SGB would write NaN)."""
    if values.dim() != 2:
        raise ValueError(f"moving average expects [rows, width] values, got {tuple(values.shape)}")
    if values.shape[0] == 0:
        return
    with torch.no_grad():
        holder.mul_(1.0 - ratio).add_(values.detach().float().mean(0).to(holder.dtype), alpha=ratio)


@dataclass
class CausalContextOutput:
    """Factual context of every object and, on request, the counterfactual ("untreated") one."""

    obj_dists: Tensor  # [N, C] object logits
    obj_preds: Tensor  # [N] committed labels
    edge_ctx: Tensor  # [N, H] edge context
    pair_logits: list[Tensor] | None = None  # VCTree's tree-scorer logits per image
    untreated_obj_dists: Tensor | None = None  # [N, C] object logits of the untreated pass
    untreated_edge_ctx: Tensor | None = None  # [N, H] edge context of the untreated pass


def _expand(buffer: Tensor, rows: int, like: Tensor) -> Tensor:
    return buffer.to(like.dtype).view(1, -1).expand(rows, -1)


def _register_untreated(module: nn.Module, embed_dim: int, in_channels: int,
                        hidden_dim: int) -> None:
    """SGB's untreated averages of the Motifs/VCTree contexts: decoder input, object input
    ([roi, class embedding, 128-d position]) and edge input ([label embedding, roi])."""
    obj_dim = in_channels + embed_dim + 128
    module.register_buffer("untreated_dcd_feat", torch.zeros(hidden_dim + obj_dim))
    module.register_buffer("untreated_obj_feat", torch.zeros(obj_dim))
    module.register_buffer("untreated_edg_feat", torch.zeros(embed_dim + in_channels))


class CausalMotifsContext(LSTMContext):
    """Motifs' LSTMContext plus the untreated averages (SGB's LSTMContext with EFFECT_ANALYSIS)."""

    def __init__(self, *, effect_analysis: bool, embed_dim: int, in_channels: int,
                 hidden_dim: int, **kwargs) -> None:
        super().__init__(embed_dim=embed_dim, in_channels=in_channels, hidden_dim=hidden_dim,
                         **kwargs)
        self.effect_analysis = effect_analysis
        if effect_analysis:
            _register_untreated(self, embed_dim, in_channels, hidden_dim)

    def forward(self, roi_features: Tensor, proposals: Sequence[BoxList],
                with_untreated: bool = False) -> CausalContextOutput:
        """Factual context (and the untreated one when ``with_untreated``)."""
        obj_pre_rep, layout, encoder_rep = self.encode_objects(roi_features, proposals)
        decoder_inp = torch.cat((obj_pre_rep, encoder_rep), dim=1)
        obj_dists, obj_preds = self.decode_objects(decoder_inp, layout, proposals)
        own = torch.cat((self.obj_embed2(obj_preds.long()), roi_features), dim=-1)
        out = CausalContextOutput(obj_dists, obj_preds, self.edge_context(own, encoder_rep, layout))
        if self.training and self.effect_analysis:
            update_moving_average(self.untreated_dcd_feat, decoder_inp)
            update_moving_average(self.untreated_obj_feat, obj_pre_rep)
            update_moving_average(self.untreated_edg_feat, own)
        if with_untreated and not self.training:
            rows = roi_features.shape[0]
            out.untreated_obj_dists, _ = self.decode_objects(
                _expand(self.untreated_dcd_feat, rows, decoder_inp), layout, proposals)
            out.untreated_edge_ctx = self.edge_context(
                _expand(self.untreated_edg_feat, rows, own), encoder_rep, layout)
        return out


class CausalVCTreeContext(VCTreeLSTMContext):
    """VCTree's context plus the untreated averages (SGB's VCTreeLSTMContext with
    EFFECT_ANALYSIS; the decoder-input average is updated once per image, as in SGB)."""

    def __init__(self, *, effect_analysis: bool, embed_dim: int, in_channels: int,
                 hidden_dim: int, **kwargs) -> None:
        super().__init__(embed_dim=embed_dim, in_channels=in_channels, hidden_dim=hidden_dim,
                         **kwargs)
        self.effect_analysis = effect_analysis
        if effect_analysis:
            _register_untreated(self, embed_dim, in_channels, hidden_dim)

    def forward(self, roi_features: Tensor, proposals: Sequence[BoxList],
                with_untreated: bool = False) -> CausalContextOutput:
        """Factual context (and the untreated one when ``with_untreated``)."""
        num_objs, num_images = [len(p) for p in proposals], len(proposals)
        obj_pre_rep, prior_logits, pair_logits, forest, obj_ctx = self.encode_objects(
            roi_features, proposals)
        decoder_inp = torch.cat((obj_pre_rep, obj_ctx), dim=1)
        obj_dists, obj_preds = self.decode_objects(decoder_inp, prior_logits, forest, num_images)
        own = torch.cat((self.obj_embed2(obj_preds), roi_features), dim=-1)
        edge_ctx = self.edge_ctx_rnn(torch.cat((own, obj_ctx), dim=-1), forest, num_images)
        out = CausalContextOutput(obj_dists, obj_preds, edge_ctx, pair_logits)
        if self.training and self.effect_analysis:
            if self.task is not SGGTask.PREDCLS:
                for image_inp in decoder_inp.split(num_objs):
                    update_moving_average(self.untreated_dcd_feat, image_inp)
            update_moving_average(self.untreated_obj_feat, obj_pre_rep)
            update_moving_average(self.untreated_edg_feat, own)
        if with_untreated and not self.training:
            rows = roi_features.shape[0]
            out.untreated_obj_dists, _ = self.decode_objects(
                _expand(self.untreated_dcd_feat, rows, decoder_inp), prior_logits, forest,
                num_images)
            edge_inp = torch.cat((_expand(self.untreated_edg_feat, rows, own), obj_ctx), -1)
            out.untreated_edge_ctx = self.edge_ctx_rnn(edge_inp, forest, num_images)
        return out


class VTransEContext(nn.Module):
    """VTransE's per-object features (SGB's VTransEFeature): no message passing.

    ``pred_layer`` classifies [roi, class embedding, box embedding]; the edge context is
    relu(fc_layer([roi, box embedding, embedding of the predicted label])). PredCls uses the
    GT labels as the other contexts do (SGB takes ``pred_layer``'s argmax even there), and the
    predicted label is the best non-background class (SGB's argmax may pick background).
    Untreated pass: the object input is the average, the label embedding is the softmax-weighted
    mix of ``obj_embed2`` under the logits it yields (PredCls: the GT one-hot).
    """

    def __init__(self, *, task: SGGTask, obj_classes: Sequence[str], in_channels: int,
                 embed_dim: int, hidden_dim: int, glove_dir: str, effect_analysis: bool) -> None:
        super().__init__()
        self.task = task
        self.num_obj_classes = len(obj_classes)
        self.effect_analysis = effect_analysis
        self.obj_embed1 = glove_embedding(obj_classes, glove_dir, embed_dim)
        self.obj_embed2 = glove_embedding(obj_classes, glove_dir, embed_dim)
        self.pos_embed = make_pos_embed()
        obj_dim = in_channels + embed_dim + 128
        # SGB's make_fc: kaiming-uniform (a=1) weights, zero bias.
        self.pred_layer = _make_fc(obj_dim, self.num_obj_classes)
        self.fc_layer = _make_fc(obj_dim, hidden_dim)
        if effect_analysis:
            self.register_buffer("untreated_obj_feat", torch.zeros(obj_dim))
            self.register_buffer("untreated_edg_feat", torch.zeros(in_channels + 128))

    def _classify(self, obj_pre_rep: Tensor, proposals: Sequence[BoxList]) -> tuple[Tensor, Tensor]:
        if self.task is SGGTask.PREDCLS:
            labels = cat_field(proposals, "labels").long()
            return onehot_logits(labels, self.num_obj_classes), labels
        obj_dists = self.pred_layer(obj_pre_rep)
        return obj_dists, obj_dists[:, 1:].argmax(dim=1) + 1

    def forward(self, roi_features: Tensor, proposals: Sequence[BoxList],
                with_untreated: bool = False) -> CausalContextOutput:
        """Factual context (and the untreated one when ``with_untreated``)."""
        obj_embed = embed_object_labels(self.obj_embed1, proposals, self.task)
        pos_embed = self.pos_embed(encode_box_info(proposals).to(roi_features))
        obj_pre_rep = torch.cat((roi_features, obj_embed, pos_embed), dim=-1)
        obj_dists, obj_preds = self._classify(obj_pre_rep, proposals)
        visual = torch.cat((roi_features, pos_embed), dim=-1)
        edge_ctx = F.relu(self.fc_layer(torch.cat((visual, self.obj_embed2(obj_preds)), -1)))
        out = CausalContextOutput(obj_dists, obj_preds, edge_ctx)
        if self.training and self.effect_analysis:
            update_moving_average(self.untreated_obj_feat, obj_pre_rep)
            update_moving_average(self.untreated_edg_feat, visual)
        if with_untreated and not self.training:
            rows = roi_features.shape[0]
            if self.task is SGGTask.PREDCLS:
                untreated_dists = obj_dists
            else:
                untreated_dists = self.pred_layer(_expand(self.untreated_obj_feat, rows, visual))
            label_mix = F.softmax(untreated_dists, dim=1) @ self.obj_embed2.weight
            edge_inp = torch.cat((_expand(self.untreated_edg_feat, rows, visual), label_mix), -1)
            out.untreated_obj_dists = untreated_dists
            out.untreated_edge_ctx = F.relu(self.fc_layer(edge_inp))
        return out


def _make_fc(dim_in: int, dim_out: int) -> nn.Linear:
    layer = nn.Linear(dim_in, dim_out)
    nn.init.kaiming_uniform_(layer.weight, a=1)
    nn.init.constant_(layer.bias, 0.0)
    return layer
