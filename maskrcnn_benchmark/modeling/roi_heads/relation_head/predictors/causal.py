"""CausalAnalysisPredictor: vision, context and frequency branches fused, with the
counterfactual (TDE / NIE / TE) inference of Tang et al. 2020 (SGB's causal head)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS
from maskrcnn_benchmark.structures.bounding_box import TO_REMOVE, BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask
from maskrcnn_benchmark.utils.comm import get_world_size, global_count

from ..frequency_bias import FrequencyBias
from .base import (
    PredictorOutput,
    RelationPredictorBase,
    read_common_config,
    read_context_config,
    xavier_init,
)
from .causal_context import (
    CausalContextOutput,
    CausalMotifsContext,
    CausalVCTreeContext,
    VTransEContext,
    update_moving_average,
)

__all__ = ["CausalAnalysisPredictor", "causal_effect", "pair_box_info", "CONTEXT_LAYERS",
           "EFFECT_TYPES", "FUSION_TYPES"]

CONTEXT_LAYERS = ("motifs", "vctree", "vtranse")
FUSION_TYPES = ("sum", "gate")
EFFECT_TYPES = ("none", "TDE", "NIE", "TE")
PAIR_BOX_DIM = 32


def _box_geometry(boxes: Tensor) -> Tensor:
    """[K, 4] xyxy -> [K, 8] (x1, y1, x2, y2, cx, cy, w, h) with w = x2 - x1 + 1 (SGB adds the
    pixel even to the normalised union / intersection boxes; kept for checkpoints)."""
    wh = boxes[:, 2:] - boxes[:, :2] + TO_REMOVE
    return torch.cat((boxes, boxes[:, :2] + 0.5 * wh, wh), dim=1)


def pair_box_info(proposals: Sequence[BoxList], rel_pair_idxs: Sequence[Tensor]) -> Tensor:
    """SGB's 32-d pair geometry: [subject, object, union, intersection] box geometries.

    Subject / object geometry is computed in pixels and divided by max(W, H, 100); union and
    intersection come from those normalised corners; a pair whose boxes do not intersect has
    an all-zero intersection part.
    """
    rows = []
    for proposal, pairs in zip(proposals, rel_pair_idxs):
        boxes = proposal.convert("xyxy").bbox
        geometry = _box_geometry(boxes) / float(max(proposal.size[0], proposal.size[1], 100))
        sub, obj = geometry[pairs[:, 0].long()], geometry[pairs[:, 1].long()]
        union = torch.cat((torch.min(sub[:, :2], obj[:, :2]), torch.max(sub[:, 2:4], obj[:, 2:4])),
                          dim=1)
        inter = torch.cat((torch.max(sub[:, :2], obj[:, :2]), torch.min(sub[:, 2:4], obj[:, 2:4])),
                          dim=1)
        empty = (inter[:, 2] < inter[:, 0]) | (inter[:, 3] < inter[:, 1])
        inter_info = _box_geometry(inter).masked_fill(empty[:, None], 0.0)
        rows.append(torch.cat((sub, obj, _box_geometry(union), inter_info), dim=1))
    if not rows:
        return torch.zeros(0, PAIR_BOX_DIM)
    return torch.cat(rows, dim=0)


def causal_effect(effect_type: str, factual: Tensor, untreated_context: Tensor,
                  untreated_all: Tensor) -> Tensor:
    """Counterfactual contrast of predicate logits Y(vision, context, labels).

    Args:
        factual: Y(u, x, z) with the real context x and the pair's label distribution z.
        untreated_context: Y(u, x_bar, z), the context from the untreated (averaged) inputs.
        untreated_all: Y(u, x_bar, z_bar), also the labels of the untreated pass.
    Returns:
        TDE = factual - untreated_context; NIE = untreated_context - untreated_all;
        TE = factual - untreated_all; none = factual.
    """
    if effect_type == "TDE":
        return factual - untreated_context
    if effect_type == "NIE":
        return untreated_context - untreated_all
    if effect_type == "TE":
        return factual - untreated_all
    if effect_type == "none":
        return factual
    raise ValueError(f"Unknown causal effect type {effect_type!r}; use one of {EFFECT_TYPES}")


def _mean_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy averaged over the pairs of every rank (as the main relation loss)."""
    total = global_count(logits.shape[0], logits.device)
    if logits.shape[0] == 0 or total == 0:
        return logits.sum() * 0.0
    summed = F.cross_entropy(logits.float(), targets.long(), reduction="sum")
    return summed * (get_world_size() / total)


@RELATION_PREDICTORS.register("CausalAnalysisPredictor")
class CausalAnalysisPredictor(RelationPredictorBase):
    """Causal head: rel = fuse(vis_compress(union), ctx_compress(ctx), freq(labels)).

    ``ctx`` is post_cat([head_s, tail_o]) (Motifs / VCTree) or head_s - tail_o (VTransE),
    optionally multiplied by the separate spatial feature and the pair-geometry embedding.
    Fusion "sum" adds the three logits; "gate" is ctx * sigmoid(vis + freq + ctx_gate_fc(ctx)).
    Training adds ``loss_auxiliary_ctx`` and, for "sum", ``loss_auxiliary_vis`` and
    ``loss_auxiliary_frq`` (each branch alone against the predicate labels), VCTree's
    ``loss_binary``, and updates the moving averages of the untreated inputs. At test with
    EFFECT_ANALYSIS and EFFECT_TYPE != none the relation logits are ``causal_effect`` of the
    factual pass and the untreated passes, with the frequency branch indexed by the pair's
    label distribution.
    """

    needs_rel_labels = True

    def __init__(
        self, *, task: SGGTask, in_channels: int, num_obj_classes: int, num_rel_classes: int,
        hidden_dim: int, pooling_dim: int, union_dim: int, obj_classes: Sequence[str],
        embed_dim: int, glove_dir: str, use_bias: bool, pred_dist: Tensor,
        dropout_rate: float, num_obj_layers: int, num_rel_layers: int, later_nms_thresh: float,
        context_layer: str, fusion_type: str, effect_analysis: bool, effect_type: str,
        separate_spatial: bool, spatial_for_vision: bool,
    ) -> None:
        super().__init__(
            task=task, num_obj_classes=num_obj_classes, num_rel_classes=num_rel_classes,
            hidden_dim=hidden_dim, pooling_dim=pooling_dim, union_dim=union_dim,
        )
        _check_choices(context_layer, fusion_type, effect_type, effect_analysis)
        if pooling_dim != union_dim:
            raise ValueError(
                f"CausalAnalysisPredictor needs MODEL.ROI_RELATION_HEAD.CONTEXT_POOLING_DIM "
                f"({pooling_dim}) equal to MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM ({union_dim}): the "
                f"union features enter vis_compress unprojected (SGB asserts the same)")
        del use_bias  # SGB's causal head always has the frequency branch
        self.fusion_type = fusion_type
        self.effect_analysis = effect_analysis
        self.effect_type = effect_type
        self.separate_spatial = separate_spatial
        self.spatial_for_vision = spatial_for_vision
        self.use_vtranse = context_layer == "vtranse"
        common = dict(task=task, obj_classes=obj_classes, in_channels=in_channels,
                      embed_dim=embed_dim, hidden_dim=hidden_dim, glove_dir=glove_dir,
                      effect_analysis=effect_analysis)
        recurrent = dict(dropout_rate=dropout_rate, num_obj_layers=num_obj_layers,
                         num_rel_layers=num_rel_layers)
        if context_layer == "motifs":
            self.context_layer = CausalMotifsContext(**common, **recurrent,
                                                     later_nms_thresh=later_nms_thresh)
        elif context_layer == "vctree":
            self.context_layer = CausalVCTreeContext(**common, **recurrent, pred_dist=pred_dist)
        else:
            self.context_layer = VTransEContext(**common)
        self.edge_dim = pooling_dim if self.use_vtranse else hidden_dim
        self.post_emb = nn.Linear(hidden_dim, self.edge_dim * 2)
        nn.init.normal_(self.post_emb.weight, mean=0.0, std=10.0 * (1.0 / hidden_dim) ** 0.5)
        nn.init.constant_(self.post_emb.bias, 0.0)
        if self.use_vtranse:
            self.ctx_compress = nn.Linear(pooling_dim, num_rel_classes, bias=False)
        else:
            self.post_cat = nn.Sequential(xavier_init(nn.Linear(hidden_dim * 2, pooling_dim)),
                                          nn.ReLU())
            self.ctx_compress = xavier_init(nn.Linear(pooling_dim, num_rel_classes))
        self.vis_compress = xavier_init(nn.Linear(pooling_dim, num_rel_classes))
        if fusion_type == "gate":
            self.ctx_gate_fc = xavier_init(nn.Linear(pooling_dim, num_rel_classes))
        self.freq_bias = FrequencyBias(pred_dist)
        if spatial_for_vision:
            self.spt_emb = nn.Sequential(
                xavier_init(nn.Linear(PAIR_BOX_DIM, hidden_dim)), nn.ReLU(),
                xavier_init(nn.Linear(hidden_dim, pooling_dim)), nn.ReLU())
        # Moving averages of the untreated inputs (always kept, as in SGB).
        self.register_buffer("untreated_spt", torch.zeros(PAIR_BOX_DIM))
        self.register_buffer("untreated_conv_spt", torch.zeros(pooling_dim))
        self.register_buffer("avg_post_ctx", torch.zeros(pooling_dim))
        self.register_buffer("untreated_feat", torch.zeros(pooling_dim))

    @classmethod
    def from_config(cls, cfg: Any, in_channels: int, statistics: Any) -> CausalAnalysisPredictor:
        """Build from the config (ROI_RELATION_HEAD and its CAUSAL node) and the statistics."""
        head = cfg.MODEL.ROI_RELATION_HEAD
        causal = head.CAUSAL
        return cls(
            **read_common_config(cfg, in_channels), **read_context_config(cfg, statistics),
            dropout_rate=head.CONTEXT_DROPOUT_RATE, num_obj_layers=head.CONTEXT_OBJ_LAYER,
            num_rel_layers=head.CONTEXT_REL_LAYER,
            later_nms_thresh=cfg.TEST.RELATION.LATER_NMS_PREDICTION_THRES,
            context_layer=causal.CONTEXT_LAYER, fusion_type=causal.FUSION_TYPE,
            effect_analysis=causal.EFFECT_ANALYSIS, effect_type=causal.EFFECT_TYPE,
            separate_spatial=causal.SEPARATE_SPATIAL,
            spatial_for_vision=causal.SPATIAL_FOR_VISION,
        )

    # -- branches ---------------------------------------------------------------------------
    def frequency_from_probabilities(self, pair_probs: Tensor) -> Tensor:
        """[P, C, 2] subject / object label distributions -> [P, R] expected frequency logits
        (sum over class pairs of p_s(a) p_o(b) times the table row of (a, b))."""
        joint = pair_probs[:, :, 0, None] * pair_probs[:, None, :, 1]
        return joint.flatten(1) @ self.freq_bias.obj_baseline.weight.to(joint.dtype)

    def fuse(self, vis_rep: Tensor, ctx_rep: Tensor, frq_logits: Tensor) -> Tensor:
        """Predicate logits of the three branches under FUSION_TYPE."""
        vis_logits = self.vis_compress(vis_rep)
        ctx_logits = self.ctx_compress(ctx_rep)
        if self.fusion_type == "gate":
            return ctx_logits * torch.sigmoid(vis_logits + frq_logits + self.ctx_gate_fc(ctx_rep))
        return vis_logits + ctx_logits + frq_logits

    def _pair_context(self, edge_ctx: Tensor, sub: Tensor, obj: Tensor) -> Tensor:
        edge_rep = self.post_emb(edge_ctx).view(edge_ctx.shape[0], 2, self.edge_dim)
        head, tail = edge_rep[sub, 0], edge_rep[obj, 1]
        if self.use_vtranse:
            return head - tail
        return self.post_cat(torch.cat((head, tail), dim=-1))

    @staticmethod
    def _pair_probabilities(obj_dists: Tensor, sub: Tensor, obj: Tensor) -> Tensor:
        probs = F.softmax(obj_dists.float(), dim=-1)
        return torch.stack((probs[sub], probs[obj]), dim=2)

    # -- forward ----------------------------------------------------------------------------
    def forward(
        self,
        proposals: Sequence[BoxList],
        rel_pair_idxs: Sequence[Tensor],
        roi_features: Tensor,
        union_features: Tensor | tuple[Tensor, Tensor] | None,
        rel_binarys: Sequence[Tensor] | None = None,
        rel_labels: Sequence[Tensor] | None = None,
    ) -> PredictorOutput:
        """Score every pair; training adds the auxiliary losses, test applies EFFECT_TYPE."""
        spatial_conv = None
        if self.separate_spatial:
            if not isinstance(union_features, tuple):
                raise ValueError("CAUSAL.SEPARATE_SPATIAL needs the union extractor's "
                                 "(visual, spatial) pair; build the head from the same config")
            union_features, spatial_conv = union_features
        if union_features is None:
            raise ValueError("CausalAnalysisPredictor needs the union-box features")
        counterfactual = (not self.training and self.effect_analysis
                          and self.effect_type != "none")
        ctx: CausalContextOutput = self.context_layer(roi_features, proposals,
                                                      with_untreated=counterfactual)
        sub, obj = self.global_pair_indices(rel_pair_idxs, [len(p) for p in proposals])
        ctx_rep = self._pair_context(ctx.edge_ctx, sub, obj)
        pair_bbox = None
        if self.separate_spatial:
            ctx_rep = ctx_rep * spatial_conv
        if self.spatial_for_vision:
            pair_bbox = pair_box_info(proposals, rel_pair_idxs).to(ctx_rep)
            ctx_rep = ctx_rep * self.spt_emb(pair_bbox)
        pair_preds = torch.stack((ctx.obj_preds[sub], ctx.obj_preds[obj]), dim=1)
        rel_logits = self.fuse(union_features, ctx_rep, self.freq_bias(pair_preds))
        losses: dict[str, Tensor] = {}
        if self.training:
            losses = self._training_losses(ctx, ctx_rep, union_features, pair_preds,
                                           rel_binarys, rel_labels)
            if self.spatial_for_vision:
                update_moving_average(self.untreated_spt, pair_bbox)
            if self.separate_spatial:
                update_moving_average(self.untreated_conv_spt, spatial_conv)
            update_moving_average(self.avg_post_ctx, ctx_rep)
            update_moving_average(self.untreated_feat, union_features)
        elif counterfactual:
            rel_logits = self._effect_logits(ctx, ctx_rep, union_features, sub, obj)
        return PredictorOutput(ctx.obj_dists, ctx.obj_preds, rel_logits, losses)

    def _training_losses(self, ctx: CausalContextOutput, ctx_rep: Tensor, union_features: Tensor,
                         pair_preds: Tensor, rel_binarys: Sequence[Tensor] | None,
                         rel_labels: Sequence[Tensor] | None) -> dict[str, Tensor]:
        if rel_labels is None:
            raise ValueError("CausalAnalysisPredictor needs the sampled predicate labels in "
                             "training (rel_labels) for its auxiliary losses")
        labels = torch.cat(list(rel_labels), dim=0)
        losses = {"loss_auxiliary_ctx": _mean_cross_entropy(self.ctx_compress(ctx_rep), labels)}
        if self.fusion_type != "gate":
            losses["loss_auxiliary_vis"] = _mean_cross_entropy(
                self.vis_compress(union_features), labels)
            losses["loss_auxiliary_frq"] = _mean_cross_entropy(self.freq_bias(pair_preds), labels)
        if ctx.pair_logits is not None and rel_binarys is not None:
            per_image = [F.binary_cross_entropy_with_logits(logits, (target > 0).float())
                         for logits, target in zip(ctx.pair_logits, rel_binarys) if len(target)]
            losses["loss_binary"] = (torch.stack(per_image).mean() if per_image
                                     else ctx.edge_ctx.sum() * 0.0)
        return losses

    def _effect_logits(self, ctx: CausalContextOutput, ctx_rep: Tensor, union_features: Tensor,
                       sub: Tensor, obj: Tensor) -> Tensor:
        with torch.no_grad():
            untreated_ctx = self._pair_context(ctx.untreated_edge_ctx, sub, obj)
            if self.spatial_for_vision:
                untreated_ctx = untreated_ctx * self.spt_emb(
                    self.untreated_spt.to(ctx_rep).view(1, -1))
            if self.separate_spatial:
                untreated_ctx = untreated_ctx * self.untreated_conv_spt.to(ctx_rep).view(1, -1)
            probs = self._pair_probabilities(ctx.obj_dists, sub, obj)
            untreated_probs = self._pair_probabilities(ctx.untreated_obj_dists, sub, obj)
            frq = self.frequency_from_probabilities(probs).to(ctx_rep.dtype)
            factual = self.fuse(union_features, ctx_rep, frq)
            no_context = self.fuse(union_features, untreated_ctx, frq)
            if self.effect_type == "TDE":
                untreated_all = no_context  # not needed by TDE
            else:
                untreated_all = self.fuse(
                    union_features, untreated_ctx,
                    self.frequency_from_probabilities(untreated_probs).to(ctx_rep.dtype))
        return causal_effect(self.effect_type, factual, no_context, untreated_all)


def _check_choices(context_layer: str, fusion_type: str, effect_type: str,
                   effect_analysis: bool) -> None:
    for key, value, choices in (("CONTEXT_LAYER", context_layer, CONTEXT_LAYERS),
                                ("FUSION_TYPE", fusion_type, FUSION_TYPES),
                                ("EFFECT_TYPE", effect_type, EFFECT_TYPES)):
        if value not in choices:
            raise ValueError(f"MODEL.ROI_RELATION_HEAD.CAUSAL.{key} is {value!r}; use one of "
                             f"{', '.join(choices)}")
    if effect_type != "none" and not effect_analysis:
        raise ValueError(
            f"MODEL.ROI_RELATION_HEAD.CAUSAL.EFFECT_TYPE {effect_type} needs EFFECT_ANALYSIS "
            f"True (the untreated averages exist only then; train with it True)")
