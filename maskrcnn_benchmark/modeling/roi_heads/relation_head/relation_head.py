"""ROIRelationHead: pairs -> box and union features -> predictor -> losses / predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from maskrcnn_benchmark.modeling.registry import (
    RELATION_PREDICTORS,
    ROI_RELATION_FEATURE_EXTRACTORS,
)
from maskrcnn_benchmark.modeling.roi_heads.box_head.roi_box_feature_extractors import (
    make_roi_box_feature_extractor,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask

from .inference import RelationPostProcessor
from .loss import RelationLossComputation
from .output import RelationHeadOutput
from .predictors.base import RelationPredictorBase
from .sampling import RelationSampler

__all__ = ["ROIRelationHead", "build_roi_relation_head", "relation_slow_heads"]


class ROIRelationHead(nn.Module):
    """The relation head of SGB with its module names (``box_feature_extractor``,
    ``union_feature_extractor``, ``predictor``).

    ``forward(features, proposals, targets)`` returns a :class:`RelationHeadOutput` and a loss
    dict (empty in eval): training samples fg/bg pairs (PredCls/SGCls on the GT boxes, SGDet on
    GT-matched detections); evaluation scores every ordered pair. ``post_process(output)``
    turns an output into the evaluator's per-image BoxLists.

    Args:
        need_target_features: also return the box features of the GT boxes in training
            (SGDet with the energy loss, whose GT graph needs them).
    """

    def __init__(
        self,
        *,
        task: SGGTask,
        box_feature_extractor: nn.Module,
        union_feature_extractor: nn.Module,
        predictor: RelationPredictorBase,
        sampler: RelationSampler,
        loss_evaluator: RelationLossComputation,
        post_processor: RelationPostProcessor,
        need_target_features: bool = False,
    ) -> None:
        super().__init__()
        self.task = task
        self.box_feature_extractor = box_feature_extractor
        self.union_feature_extractor = union_feature_extractor
        self.predictor = predictor
        self.sampler = sampler
        self.loss_evaluator = loss_evaluator
        self.post_processor = post_processor
        self.need_target_features = need_target_features

    @property
    def slow_head_modules(self) -> tuple[str, ...]:
        """Submodule names (relative to this head) that SGB trains at lr / 10 (IMP only)."""
        if not self.predictor.slow_heads:
            return ()
        return ("box_feature_extractor", "union_feature_extractor.feature_extractor")

    def forward(
        self,
        features: Sequence[Tensor],
        proposals: Sequence[BoxList],
        targets: Sequence[BoxList] | None = None,
    ) -> tuple[RelationHeadOutput, dict[str, Tensor]]:
        """Score object pairs; returns the typed output and the losses (empty in eval)."""
        proposals = list(proposals)
        if self.training:
            if targets is None:
                raise ValueError("ROIRelationHead needs targets (GT BoxLists) in training")
            with torch.no_grad():
                sampled = self.sampler.sample(proposals, targets)
            rel_pair_idxs, rel_labels = sampled.rel_pair_idxs, sampled.rel_labels
            rel_binarys = sampled.rel_binarys
        else:
            rel_pair_idxs, rel_labels, rel_binarys = self.sampler.test_pairs(proposals), None, None
        roi_features = self.box_feature_extractor(features, proposals)
        union_features = None
        if self.predictor.uses_union_features:
            union_features = self.union_feature_extractor(features, proposals, rel_pair_idxs)
        extra = {"rel_labels": rel_labels} if self.predictor.needs_rel_labels else {}
        result = self.predictor(proposals, rel_pair_idxs, roi_features, union_features,
                                rel_binarys, **extra)
        output = RelationHeadOutput(
            proposals=proposals,
            rel_pair_idxs=list(rel_pair_idxs),
            relation_logits=list(result.relation_logits.split([len(p) for p in rel_pair_idxs])),
            refine_logits=list(result.obj_logits.split([len(p) for p in proposals])),
            roi_features=roi_features,
            rel_labels=list(rel_labels) if rel_labels is not None else None,
        )
        if not self.training:
            return output, {}
        if self.need_target_features:
            output.target_roi_features = self.box_feature_extractor(features, list(targets))
        losses = self.loss_evaluator(proposals, output.rel_labels, output.relation_logits,
                                     output.refine_logits)
        losses.update(result.losses)
        return output, losses

    def post_process(self, output: RelationHeadOutput) -> list[BoxList]:
        """Per-image predictions (see RelationPostProcessor and docs/ARCHITECTURE.md)."""
        return self.post_processor(output.relation_logits, output.refine_logits,
                                   output.rel_pair_idxs, output.proposals)


def _check_statistics(cfg: Any, statistics: Any) -> None:
    num_obj, num_rel = cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES, cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    if len(statistics.obj_classes) != num_obj or len(statistics.rel_classes) != num_rel:
        raise ValueError(
            f"The dataset statistics have {len(statistics.obj_classes)} object and "
            f"{len(statistics.rel_classes)} predicate classes (background included) but the config "
            f"says MODEL.ROI_BOX_HEAD.NUM_CLASSES={num_obj} and "
            f"MODEL.ROI_RELATION_HEAD.NUM_CLASSES={num_rel}; make them agree"
        )


def build_roi_relation_head(cfg: Any, in_channels: int, statistics: Any = None) -> ROIRelationHead:
    """Build the relation head; ``statistics`` (a DatasetStatistics: ``obj_classes``,
    ``rel_classes``, ``pred_dist()``) default to ``get_dataset_statistics(cfg)``."""
    if statistics is None:
        # Imported here: only this build step reaches into the data package.
        from maskrcnn_benchmark.data.statistics import get_dataset_statistics

        statistics = get_dataset_statistics(cfg)
    _check_statistics(cfg, statistics)
    head = cfg.MODEL.ROI_RELATION_HEAD
    if head.USE_GT_OBJECT_LABEL and not head.USE_GT_BOX:
        raise ValueError(
            "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL=True needs USE_GT_BOX=True (GT labels "
            "exist only for GT boxes); set USE_GT_OBJECT_LABEL False for SGDet"
        )
    task = SGGTask.from_flags(head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL)
    box_feature_extractor = make_roi_box_feature_extractor(cfg, in_channels)
    union_feature_extractor = ROI_RELATION_FEATURE_EXTRACTORS.get(head.FEATURE_EXTRACTOR)(
        cfg, in_channels)
    predictor = RELATION_PREDICTORS.get(head.PREDICTOR).from_config(
        cfg, box_feature_extractor.out_channels, statistics)
    sampler = RelationSampler(
        task=task,
        fg_iou_threshold=cfg.MODEL.ROI_HEADS.FG_IOU_THRESHOLD,
        require_overlap=head.REQUIRE_BOX_OVERLAP,
        num_sample_per_gt_rel=head.NUM_SAMPLE_PER_GT_REL,
        batch_size_per_image=head.BATCH_SIZE_PER_IMAGE,
        positive_fraction=head.POSITIVE_FRACTION,
        test_require_overlap=cfg.TEST.RELATION.REQUIRE_OVERLAP,
    )
    return ROIRelationHead(
        task=task,
        box_feature_extractor=box_feature_extractor,
        union_feature_extractor=union_feature_extractor,
        predictor=predictor,
        sampler=sampler,
        loss_evaluator=RelationLossComputation(
            head.LABEL_SMOOTHING_LOSS, label_smoothing_epsilon=head.LABEL_SMOOTHING_EPSILON,
            confidence_penalty=head.CONFIDENCE_PENALTY),
        post_processor=RelationPostProcessor(
            use_gt_box=task is not SGGTask.SGDET,
            later_nms_thresh=cfg.TEST.RELATION.LATER_NMS_PREDICTION_THRES,
        ),
        need_target_features=cfg.MODEL.ENERGY_ON and task is SGGTask.SGDET,
    )


def relation_slow_heads(model: nn.Module) -> list[str]:
    """Full parameter-name prefixes of the slow heads of every relation head in ``model``
    (``make_optimizer(cfg, model, slow_heads=relation_slow_heads(model))``)."""
    return [
        f"{name}.{sub}" if name else sub
        for name, module in model.named_modules()
        if isinstance(module, ROIRelationHead)
        for sub in module.slow_head_modules
    ]
