"""Which object pairs the relation head scores: sampled fg/bg pairs in training, all at test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.boxlist_ops import boxlist_iou
from maskrcnn_benchmark.structures.scene_graph import SGGTask

__all__ = ["RelationSampler", "SampledPairs"]


@dataclass
class SampledPairs:
    """Training pairs per image: indices [P_i, 2], predicate targets [P_i] (0 = background)
    and the symmetric 0/1 relatedness matrix [N_i, N_i] (VCTree's tree-scorer target)."""

    rel_pair_idxs: list[Tensor]
    rel_labels: list[Tensor]
    rel_binarys: list[Tensor]


class RelationSampler:
    """SGB's relation pair sampling (``gtbox_relsample`` / ``detect_relsample``) and test pairs.

    Args:
        task: PredCls / SGCls sample on GT boxes, SGDet on detections matched to the GT.
        fg_iou_threshold: SGDet: a proposal matches a GT box of the same label above this IoU.
        require_overlap: SGDet training: background pairs need overlapping boxes.
        num_sample_per_gt_rel: SGDet: at most this many proposal pairs per GT relation, drawn
            without replacement with probability proportional to IoU(head) * IoU(tail).
        batch_size_per_image: at most this many pairs per image.
        positive_fraction: at most ``int(batch_size_per_image * positive_fraction)`` fg pairs.
        test_require_overlap: SGDet test: only pairs of overlapping boxes.
    """

    def __init__(
        self,
        *,
        task: SGGTask,
        fg_iou_threshold: float,
        require_overlap: bool,
        num_sample_per_gt_rel: int,
        batch_size_per_image: int,
        positive_fraction: float,
        test_require_overlap: bool,
    ) -> None:
        self.task = task
        self.fg_iou_threshold = fg_iou_threshold
        self.require_overlap = require_overlap
        self.num_sample_per_gt_rel = num_sample_per_gt_rel
        self.batch_size_per_image = batch_size_per_image
        self.num_pos_per_image = int(batch_size_per_image * positive_fraction)
        self.test_require_overlap = test_require_overlap

    # ------------------------------------------------------------------------------- test
    def test_pairs(self, proposals: Sequence[BoxList]) -> list[Tensor]:
        """All ordered pairs i != j in row-major order (SGDet: overlapping ones if required).

        An image with no candidate pair gets the placeholder pair (0, 0) as in SGB, and an
        image without boxes gets no pair.
        """
        pairs = []
        for proposal in proposals:
            num = len(proposal)
            device = proposal.bbox.device
            candidates = ~torch.eye(num, dtype=torch.bool, device=device)
            if self.task is SGGTask.SGDET and self.test_require_overlap:
                candidates &= boxlist_iou(proposal, proposal) > 0
            idxs = candidates.nonzero()
            if len(idxs) == 0:
                idxs = torch.zeros((1 if num > 0 else 0, 2), dtype=torch.int64, device=device)
            pairs.append(idxs)
        return pairs

    # ------------------------------------------------------------------------------- train
    def sample(self, proposals: Sequence[BoxList], targets: Sequence[BoxList]) -> SampledPairs:
        """Sample training pairs for the configured task."""
        if len(proposals) != len(targets):
            raise ValueError(f"{len(proposals)} proposal lists but {len(targets)} targets")
        per_image = (self._sample_detections if self.task is SGGTask.SGDET
                     else self._sample_gt_boxes)
        result = SampledPairs([], [], [])
        for proposal, target in zip(proposals, targets):
            pairs, labels, binary = per_image(proposal, target)
            result.rel_pair_idxs.append(pairs)
            result.rel_labels.append(labels)
            result.rel_binarys.append(binary)
        return result

    def _sample_gt_boxes(self, proposal: BoxList, target: BoxList) -> tuple[Tensor, ...]:
        if len(proposal) != len(target):
            raise ValueError(
                f"PredCls/SGCls proposals must be the GT boxes: {len(proposal)} proposals for "
                f"{len(target)} GT boxes"
            )
        device = proposal.bbox.device
        num = len(proposal)
        relation = target.get_field("relation").to(device)
        fg_pairs = (relation > 0).nonzero()
        fg_labels = relation[fg_pairs[:, 0], fg_pairs[:, 1]].long()
        binary = torch.zeros((num, num), dtype=torch.int64, device=device)
        binary[fg_pairs[:, 0], fg_pairs[:, 1]] = 1
        binary[fg_pairs[:, 1], fg_pairs[:, 0]] = 1

        possible = ~torch.eye(num, dtype=torch.bool, device=device)
        possible[fg_pairs[:, 0], fg_pairs[:, 1]] = False
        bg_pairs = possible.nonzero()
        if len(fg_pairs) > self.num_pos_per_image:
            keep = torch.randperm(len(fg_pairs), device=device)[: self.num_pos_per_image]
            fg_pairs, fg_labels = fg_pairs[keep], fg_labels[keep]
        num_bg = self.batch_size_per_image - len(fg_pairs)
        bg_pairs = bg_pairs[torch.randperm(len(bg_pairs), device=device)[:num_bg]]
        pairs = torch.cat((fg_pairs, bg_pairs), dim=0)
        labels = torch.cat((fg_labels, fg_labels.new_zeros(len(bg_pairs))), dim=0)
        return pairs, labels, binary

    def _sample_detections(self, proposal: BoxList, target: BoxList) -> tuple[Tensor, ...]:
        device = proposal.bbox.device
        num = len(proposal)
        prp_labels = proposal.get_field("labels").long()
        ious = boxlist_iou(target, proposal)  # [T, N]
        is_match = (target.get_field("labels").long()[:, None] == prp_labels[None]) & (
            ious > self.fg_iou_threshold
        )
        if self.require_overlap:
            self_iou = boxlist_iou(proposal, proposal)
            possible = (self_iou > 0) & (self_iou < 1)  # not itself (nor a duplicate), overlapping
        else:
            possible = ~torch.eye(num, dtype=torch.bool, device=device)
        possible[prp_labels == 0] = False
        possible[:, prp_labels == 0] = False

        relation = target.get_field("relation").to(device)
        gt_pairs = (relation > 0).nonzero()
        gt_labels = relation[gt_pairs[:, 0], gt_pairs[:, 1]].long()
        head_match = is_match[gt_pairs[:, 0]]  # [R, N]
        tail_match = is_match[gt_pairs[:, 1]]
        # Related-or-not of every matched (head, tail) proposal pair, made symmetric.
        related = (head_match.T.float() @ tail_match.float()) > 0
        binary = (related | related.T).long()

        candidates = head_match[:, :, None] & tail_match[:, None, :]
        candidates &= ~torch.eye(num, dtype=torch.bool, device=device)[None]
        rel_idx, head_idx, tail_idx = candidates.nonzero(as_tuple=True)  # grouped by GT relation
        possible[head_idx, tail_idx] = False
        keep = self._limit_per_gt_relation(rel_idx, head_idx, tail_idx, gt_pairs, ious)
        fg = torch.stack((head_idx[keep], tail_idx[keep], gt_labels[rel_idx[keep]]), dim=1)
        if len(fg) > self.num_pos_per_image:
            fg = fg[torch.randperm(len(fg), device=device)[: self.num_pos_per_image]]

        bg_pairs = possible.nonzero()
        num_bg = min(self.batch_size_per_image - len(fg), len(bg_pairs))
        bg_pairs = bg_pairs[torch.randperm(len(bg_pairs), device=device)[:num_bg]]
        bg = torch.cat((bg_pairs, bg_pairs.new_zeros(len(bg_pairs), 1)), dim=1)
        triplets = torch.cat((fg, bg), dim=0)
        if len(triplets) == 0 and num > 0:  # SGB's placeholder: one background pair (0, 0)
            triplets = torch.zeros((1, 3), dtype=torch.int64, device=device)
        return triplets[:, :2], triplets[:, 2], binary

    def _limit_per_gt_relation(
        self, rel_idx: Tensor, head_idx: Tensor, tail_idx: Tensor, gt_pairs: Tensor, ious: Tensor
    ) -> Tensor:
        """Indices of the candidates kept: at most ``num_sample_per_gt_rel`` per GT relation."""
        keep = torch.ones(len(rel_idx), dtype=torch.bool, device=rel_idx.device)
        counts = torch.bincount(rel_idx, minlength=len(gt_pairs))
        for rel in (counts > self.num_sample_per_gt_rel).nonzero().flatten().tolist():
            members = (rel_idx == rel).nonzero().flatten()
            weights = (ious[gt_pairs[rel, 0], head_idx[members]]
                       * ious[gt_pairs[rel, 1], tail_idx[members]])
            chosen = torch.multinomial(weights, self.num_sample_per_gt_rel, replacement=False)
            keep[members] = False
            keep[members[chosen]] = True
        return keep.nonzero().flatten()
