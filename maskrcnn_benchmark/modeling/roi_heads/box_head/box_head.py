"""ROI box head: detector training/testing, and SGB's relation-mode behaviour (frozen)."""

from collections.abc import Sequence

import torch
from torch import nn

from maskrcnn_benchmark.config import CfgNode
from maskrcnn_benchmark.modeling.balanced_positive_negative_sampler import (
    BalancedPositiveNegativeSampler,
)
from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.modeling.matcher import Matcher
from maskrcnn_benchmark.structures.bounding_box import BoxList

from .inference import PostProcessor
from .loss import FastRCNNLossComputation
from .roi_box_feature_extractors import make_roi_box_feature_extractor
from .roi_box_predictors import make_roi_box_predictor
from .sampling import FastRCNNSampling

__all__ = ["ROIBoxHead", "build_roi_box_head"]


def _add_predict_logits(proposals: Sequence[BoxList], class_logits: torch.Tensor) -> None:
    for proposal, logits in zip(proposals, class_logits.split([len(p) for p in proposals])):
        proposal.add_field("predict_logits", logits)


class ROIBoxHead(nn.Module):
    """Feature extractor + predictor, with sampling/loss in training and post-processing.

    Detector mode (``relation_on`` False): training samples RoIs and returns the losses
    ``loss_classifier``/``loss_box_reg``; eval returns detections (``pred_scores``,
    ``pred_labels``). Relation mode (``relation_on`` True, never a loss):

    - PredCls (``use_gt_box``, ``use_gt_object_label``): the GT boxes with their ``labels``.
    - SGCls (``use_gt_box``): the GT boxes with ``labels`` and ``predict_logits``.
    - SGDet: RPN proposals get ``labels`` by GT matching (when targets are given) and
      ``predict_logits``, then the test post-processor runs in training too, adding
      ``boxes_per_cls``, ``pred_scores`` and ``pred_labels``.
    """

    def __init__(
        self,
        feature_extractor: nn.Module,
        predictor: nn.Module,
        post_processor: PostProcessor,
        sampler: FastRCNNSampling,
        loss_evaluator: FastRCNNLossComputation,
        relation_on: bool = False,
        use_gt_box: bool = False,
        use_gt_object_label: bool = False,
    ) -> None:
        super().__init__()
        self.feature_extractor = feature_extractor
        self.predictor = predictor
        self.post_processor = post_processor
        self.sampler = sampler
        self.loss_evaluator = loss_evaluator
        self.relation_on = relation_on
        self.use_gt_box = use_gt_box
        self.use_gt_object_label = use_gt_object_label

    @property
    def uses_proposals(self) -> bool:
        """False for PredCls/SGCls, whose boxes are the GT boxes (the RPN need not run)."""
        return not (self.relation_on and self.use_gt_box)

    def forward(
        self,
        features: Sequence[torch.Tensor],
        proposals: Sequence[BoxList] | None,
        targets: Sequence[BoxList] | None = None,
        training: bool | None = None,
    ) -> tuple[list[BoxList], dict[str, torch.Tensor]]:
        """(boxes for the next stage, losses); ``training`` defaults to ``self.training``."""
        training = self.training if training is None else training
        if self.relation_on:
            return self._forward_relation(features, proposals, targets, training), {}
        if training:
            if targets is None:
                raise ValueError("The box head needs targets (GT BoxLists) in training")
            with torch.no_grad():
                proposals = self.sampler.subsample(proposals, targets)
        class_logits, box_regression = self.predictor(self.feature_extractor(features, proposals))
        if not training:
            return self.post_processor(class_logits, box_regression, proposals)[0], {}
        loss_classifier, loss_box_reg = self.loss_evaluator(class_logits, box_regression, proposals)
        return list(proposals), {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}

    def _forward_relation(
        self,
        features: Sequence[torch.Tensor],
        proposals: Sequence[BoxList] | None,
        targets: Sequence[BoxList] | None,
        training: bool,
    ) -> list[BoxList]:
        if self.use_gt_box:
            if targets is None:
                raise ValueError(
                    "PredCls/SGCls (MODEL.ROI_RELATION_HEAD.USE_GT_BOX True) need the GT boxes: "
                    "pass targets to the model in training and in evaluation"
                )
            gt_boxes = [t.copy_with_fields(["labels"]).convert("xyxy") for t in targets]
            if self.use_gt_object_label:
                return gt_boxes
            class_logits, _ = self.predictor(self.feature_extractor(features, gt_boxes))
            _add_predict_logits(gt_boxes, class_logits)
            return gt_boxes
        proposals = [p.copy_with_fields([]) for p in proposals]
        if targets is not None:
            proposals = self.sampler.assign_label_to_proposals(proposals, targets)
        elif training:
            raise ValueError("SGDet training needs targets (GT BoxLists) to label the proposals")
        class_logits, box_regression = self.predictor(self.feature_extractor(features, proposals))
        _add_predict_logits(proposals, class_logits)
        return self.post_processor(class_logits, box_regression, proposals, relation_mode=True)[0]


def build_roi_box_head(cfg: CfgNode, in_channels: int) -> ROIBoxHead:
    """The box head described by MODEL.ROI_HEADS / MODEL.ROI_BOX_HEAD."""
    heads = cfg.MODEL.ROI_HEADS
    scales = cfg.MODEL.ROI_BOX_HEAD.POOLER_SCALES
    if not heads.USE_FPN and len(scales) != 1:
        raise ValueError(
            f"MODEL.ROI_HEADS.USE_FPN is False but MODEL.ROI_BOX_HEAD.POOLER_SCALES has "
            f"{len(scales)} levels {tuple(scales)}: set USE_FPN True or give a single scale"
        )
    box_coder = BoxCoder(weights=heads.BBOX_REG_WEIGHTS)
    feature_extractor = make_roi_box_feature_extractor(cfg, in_channels)
    post_processor = PostProcessor(
        score_thresh=heads.SCORE_THRESH,
        nms=heads.NMS,
        post_nms_per_cls_topn=heads.POST_NMS_PER_CLS_TOPN,
        nms_filter_duplicates=heads.NMS_FILTER_DUPLICATES,
        detections_per_img=heads.DETECTIONS_PER_IMG,
        box_coder=box_coder,
        cls_agnostic_bbox_reg=cfg.MODEL.CLS_AGNOSTIC_BBOX_REG,
    )
    sampler = FastRCNNSampling(
        Matcher(heads.FG_IOU_THRESHOLD, heads.BG_IOU_THRESHOLD, allow_low_quality_matches=False),
        BalancedPositiveNegativeSampler(heads.BATCH_SIZE_PER_IMAGE, heads.POSITIVE_FRACTION),
        box_coder,
    )
    relation = cfg.MODEL.ROI_RELATION_HEAD
    return ROIBoxHead(
        feature_extractor=feature_extractor,
        predictor=make_roi_box_predictor(cfg, feature_extractor.out_channels),
        post_processor=post_processor,
        sampler=sampler,
        loss_evaluator=FastRCNNLossComputation(cfg.MODEL.CLS_AGNOSTIC_BBOX_REG),
        relation_on=cfg.MODEL.RELATION_ON,
        use_gt_box=relation.USE_GT_BOX,
        use_gt_object_label=relation.USE_GT_OBJECT_LABEL,
    )
