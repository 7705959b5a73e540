"""Region proposal network: a shared conv head over all levels, anchors, proposals and loss."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maskrcnn_benchmark.config import CfgNode
from maskrcnn_benchmark.modeling.balanced_positive_negative_sampler import (
    BalancedPositiveNegativeSampler,
)
from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.modeling.matcher import Matcher
from maskrcnn_benchmark.modeling.registry import RPN_HEADS
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.image_list import ImageList

from .anchor_generator import AnchorGenerator
from .inference import RPNPostProcessor
from .loss import RPNLossComputation

__all__ = ["RPNHead", "RPNModule", "build_rpn"]


@RPN_HEADS.register("SingleConvRPNHead")
class RPNHead(nn.Module):
    """3x3 conv + ReLU, then 1x1 convs for objectness (A) and box deltas (4A), on every level."""

    def __init__(self, in_channels: int, mid_channels: int, num_anchors: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, mid_channels, kernel_size=3, stride=1, padding=1)
        # SGB builds these from in_channels (equal to mid_channels in all its configs).
        self.cls_logits = nn.Conv2d(mid_channels, num_anchors, kernel_size=1, stride=1)
        self.bbox_pred = nn.Conv2d(mid_channels, num_anchors * 4, kernel_size=1, stride=1)
        for layer in (self.conv, self.cls_logits, self.bbox_pred):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.constant_(layer.bias, 0)

    def forward(
        self, features: Sequence[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per level: objectness logits [N, A, H, W] and deltas [N, 4A, H, W]."""
        logits, bbox_reg = [], []
        for feature in features:
            t = F.relu(self.conv(feature))
            logits.append(self.cls_logits(t))
            bbox_reg.append(self.bbox_pred(t))
        return logits, bbox_reg


class RPNModule(nn.Module):
    """Anchors + head + post-processing (+ loss in training).

    ``loss_evaluator`` is None for models that never train the RPN (relation mode).
    """

    def __init__(
        self,
        anchor_generator: AnchorGenerator,
        head: nn.Module,
        box_selector_train: RPNPostProcessor,
        box_selector_test: RPNPostProcessor,
        loss_evaluator: RPNLossComputation | None,
    ) -> None:
        super().__init__()
        self.anchor_generator = anchor_generator
        self.head = head
        self.box_selector_train = box_selector_train
        self.box_selector_test = box_selector_test
        self.loss_evaluator = loss_evaluator

    def forward(
        self,
        images: ImageList,
        features: Sequence[torch.Tensor],
        targets: Sequence[BoxList] | None = None,
        training: bool | None = None,
    ) -> tuple[list[BoxList], dict[str, torch.Tensor]]:
        """Proposals per image and, when training with a loss evaluator, the RPN losses.

        ``training`` selects the train or test settings (NMS numbers, GT appending); it
        defaults to ``self.training`` and lets a frozen RPN in eval mode follow the model.
        """
        training = self.training if training is None else training
        objectness, box_regression = self.head(features)
        anchors = self.anchor_generator(images, features)
        selector = self.box_selector_train if training else self.box_selector_test
        with torch.no_grad():
            proposals = selector(anchors, objectness, box_regression, targets, training)
        if not training or self.loss_evaluator is None:
            return proposals, {}
        if targets is None:
            raise ValueError("The RPN needs targets (GT BoxLists) to compute its training loss")
        loss_objectness, loss_rpn_box_reg = self.loss_evaluator(
            anchors, objectness, box_regression, targets
        )
        return proposals, {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_rpn_box_reg}


def _post_processor(cfg: CfgNode, box_coder: BoxCoder, is_train: bool) -> RPNPostProcessor:
    rpn = cfg.MODEL.RPN
    fpn_top_n = rpn.FPN_POST_NMS_TOP_N_TRAIN if is_train else rpn.FPN_POST_NMS_TOP_N_TEST
    return RPNPostProcessor(
        pre_nms_top_n=rpn.PRE_NMS_TOP_N_TRAIN if is_train else rpn.PRE_NMS_TOP_N_TEST,
        post_nms_top_n=rpn.POST_NMS_TOP_N_TRAIN if is_train else rpn.POST_NMS_TOP_N_TEST,
        nms_thresh=rpn.NMS_THRESH,
        min_size=rpn.MIN_SIZE,
        box_coder=box_coder,
        fpn_post_nms_top_n=fpn_top_n,
        fpn_post_nms_per_batch=rpn.FPN_POST_NMS_PER_BATCH,
        # Only relation (SGDet) training appends GT boxes; detector pretraining never does.
        add_gt=is_train and cfg.MODEL.RELATION_ON
        and cfg.MODEL.ROI_RELATION_HEAD.ADD_GTBOX_TO_PROPOSAL_IN_TRAIN,
    )


def build_rpn(cfg: CfgNode, in_channels: int) -> RPNModule:
    """The RPN described by MODEL.RPN for backbone features with ``in_channels`` channels."""
    rpn = cfg.MODEL.RPN
    if rpn.USE_FPN != (len(rpn.ANCHOR_STRIDE) > 1):
        raise ValueError(
            f"MODEL.RPN.USE_FPN={rpn.USE_FPN} needs "
            f"{'one stride per level' if rpn.USE_FPN else 'a single stride'} in "
            f"MODEL.RPN.ANCHOR_STRIDE, got {tuple(rpn.ANCHOR_STRIDE)}"
        )
    anchor_generator = AnchorGenerator(
        rpn.ANCHOR_SIZES, rpn.ASPECT_RATIOS, rpn.ANCHOR_STRIDE, rpn.STRADDLE_THRESH
    )
    head = RPN_HEADS.get(rpn.RPN_HEAD)(
        in_channels, rpn.RPN_MID_CHANNEL, anchor_generator.num_anchors_per_location()[0]
    )
    box_coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    loss_evaluator = None
    if not cfg.MODEL.RELATION_ON:
        loss_evaluator = RPNLossComputation(
            Matcher(rpn.FG_IOU_THRESHOLD, rpn.BG_IOU_THRESHOLD, allow_low_quality_matches=True),
            BalancedPositiveNegativeSampler(rpn.BATCH_SIZE_PER_IMAGE, rpn.POSITIVE_FRACTION),
            box_coder,
        )
    return RPNModule(
        anchor_generator,
        head,
        _post_processor(cfg, box_coder, is_train=True),
        _post_processor(cfg, box_coder, is_train=False),
        loss_evaluator,
    )
