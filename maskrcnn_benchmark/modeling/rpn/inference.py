"""RPN post-processing: anchors + objectness + deltas -> proposals (per level, then merged)."""

from collections.abc import Sequence

import torch

from maskrcnn_benchmark.layers import nms
from maskrcnn_benchmark.modeling.box_coder import BoxCoder
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.boxlist_ops import cat_boxlist, remove_small_boxes

from .utils import permute_and_flatten

__all__ = ["RPNPostProcessor"]


class RPNPostProcessor:
    """Select proposals as maskrcnn-benchmark does.

    Per level and image: keep the ``pre_nms_top_n`` highest objectness anchors, decode them,
    clip to the image, drop boxes smaller than ``min_size``, NMS at ``nms_thresh`` keeping
    ``post_nms_top_n``. With several levels, keep the ``fpn_post_nms_top_n`` best per image
    (per batch when ``fpn_post_nms_per_batch``, during training only, as the reference).
    ``add_gt`` appends the GT boxes (objectness 1) during training.

    Returns one BoxList per image with an ``objectness`` field (sigmoid probabilities).
    """

    def __init__(
        self,
        pre_nms_top_n: int,
        post_nms_top_n: int,
        nms_thresh: float,
        min_size: float,
        box_coder: BoxCoder,
        fpn_post_nms_top_n: int,
        fpn_post_nms_per_batch: bool,
        add_gt: bool,
    ) -> None:
        self.pre_nms_top_n = pre_nms_top_n
        self.post_nms_top_n = post_nms_top_n
        self.nms_thresh = nms_thresh
        self.min_size = min_size
        self.box_coder = box_coder
        self.fpn_post_nms_top_n = fpn_post_nms_top_n
        self.fpn_post_nms_per_batch = fpn_post_nms_per_batch
        self.add_gt = add_gt

    def _single_level(
        self, anchors: Sequence[BoxList], objectness: torch.Tensor, box_regression: torch.Tensor
    ) -> list[BoxList]:
        N, A, H, W = objectness.shape
        objectness = permute_and_flatten(objectness, N, A, 1, H, W).view(N, -1).sigmoid()
        box_regression = permute_and_flatten(box_regression, N, A, 4, H, W)

        pre_nms_top_n = min(self.pre_nms_top_n, A * H * W)
        objectness, topk_idx = objectness.topk(pre_nms_top_n, dim=1, sorted=True)
        batch_idx = torch.arange(N, device=objectness.device)[:, None]
        box_regression = box_regression[batch_idx, topk_idx]
        concat_anchors = torch.stack([a.bbox for a in anchors], dim=0)[batch_idx, topk_idx]
        proposals = self.box_coder.decode(
            box_regression.reshape(-1, 4).float(), concat_anchors.reshape(-1, 4)
        ).view(N, -1, 4)

        result = []
        for boxes, scores, anchors_per_image in zip(proposals, objectness, anchors):
            boxlist = BoxList(boxes, anchors_per_image.size, mode="xyxy")
            boxlist.add_field("objectness", scores.float())
            boxlist = boxlist.clip_to_image(remove_empty=False)
            boxlist = remove_small_boxes(boxlist, self.min_size)
            keep = nms(boxlist.bbox, boxlist.get_field("objectness"), self.nms_thresh)
            result.append(boxlist[keep[: self.post_nms_top_n]])
        return result

    def _select_over_all_levels(self, boxlists: list[BoxList], training: bool) -> list[BoxList]:
        if training and self.fpn_post_nms_per_batch:
            # Detectron's legacy behaviour: the top-N is taken over the whole batch.
            objectness = torch.cat([b.get_field("objectness") for b in boxlists], dim=0)
            top_n = min(self.fpn_post_nms_top_n, len(objectness))
            keep = torch.zeros_like(objectness, dtype=torch.bool)
            keep[torch.topk(objectness, top_n, sorted=True).indices] = True
            masks = keep.split([len(b) for b in boxlists])
            return [b[mask] for b, mask in zip(boxlists, masks)]
        selected = []
        for boxlist in boxlists:
            objectness = boxlist.get_field("objectness")
            top_n = min(self.fpn_post_nms_top_n, len(objectness))
            selected.append(boxlist[torch.topk(objectness, top_n, sorted=True).indices])
        return selected

    @staticmethod
    def _add_gt_proposals(proposals: list[BoxList], targets: Sequence[BoxList]) -> list[BoxList]:
        merged = []
        for proposal, target in zip(proposals, targets):
            gt_box = target.copy_with_fields([]).convert("xyxy")
            gt_box.add_field("objectness", torch.ones(len(gt_box), device=proposal.bbox.device))
            merged.append(cat_boxlist([proposal, gt_box]))
        return merged

    def __call__(
        self,
        anchors: Sequence[Sequence[BoxList]],
        objectness: Sequence[torch.Tensor],
        box_regression: Sequence[torch.Tensor],
        targets: Sequence[BoxList] | None = None,
        training: bool = False,
    ) -> list[BoxList]:
        """Proposals per image from per-image anchors and per-level head outputs."""
        per_level = [
            self._single_level(level_anchors, level_objectness, level_regression)
            for level_anchors, level_objectness, level_regression in zip(
                zip(*anchors), objectness, box_regression
            )
        ]
        boxlists = [cat_boxlist(list(image_boxes)) for image_boxes in zip(*per_level)]
        if len(objectness) > 1:
            boxlists = self._select_over_all_levels(boxlists, training)
        if training and self.add_gt and targets is not None:
            boxlists = self._add_gt_proposals(boxlists, targets)
        return boxlists
