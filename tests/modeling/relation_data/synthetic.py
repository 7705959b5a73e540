"""Tiny hand-made inputs for the relation-head tests: statistics, boxes, targets, configs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.structures.bounding_box import BoxList

OBJ_CLASSES = ["__background__", "man", "horse", "traffic light", "tree", "dog_house", "hat"]
REL_CLASSES = ["__background__", "on", "has", "near", "wearing"]
TASK_FLAGS = {"predcls": (True, True), "sgcls": (True, False), "sgdet": (False, False)}


@dataclass
class TinyStatistics:
    """What the predictors read from ``DatasetStatistics``: names and the frequency tables."""

    obj_classes: list[str]
    rel_classes: list[str]
    counts: torch.Tensor  # [C, C, P] triplet counts (column 0 = background pair counts)

    def fg_matrix(self) -> torch.Tensor:
        return self.counts.clone()

    def pred_dist(self) -> torch.Tensor:
        """SGB's formula: log(fg / sum_p fg + 1e-3)."""
        counts = self.counts.double()
        return torch.log(counts / counts.sum(2, keepdim=True) + 1e-3).float()


def make_statistics(seed: int = 0) -> TinyStatistics:
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(0, 5, (len(OBJ_CLASSES), len(OBJ_CLASSES), len(REL_CLASSES)),
                           generator=generator)
    counts[:, :, 0] += 1  # every class pair has background counts (SGB adds 1)
    return TinyStatistics(list(OBJ_CLASSES), list(REL_CLASSES), counts)


def small_cfg(predictor: str, task: str, **overrides):
    """A CPU config with small widths for ``predictor`` in ``task``."""
    cfg = get_cfg()
    cfg.MODEL.DEVICE = "cpu"
    cfg.GLOVE_DIR = overrides.pop("glove_dir", "/nonexistent-glove-dir")
    head = cfg.MODEL.ROI_RELATION_HEAD
    head.PREDICTOR = predictor
    head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL = TASK_FLAGS[task]
    head.NUM_CLASSES = len(REL_CLASSES)
    head.EMBED_DIM = 8
    head.CONTEXT_HIDDEN_DIM = 16
    head.CONTEXT_POOLING_DIM = overrides.pop("pooling_dim", 24)
    head.BATCH_SIZE_PER_IMAGE = 12
    head.TRANSFORMER.OBJ_LAYER = 2
    head.TRANSFORMER.REL_LAYER = 1
    head.TRANSFORMER.NUM_HEAD = 2
    head.TRANSFORMER.INNER_DIM = 16
    head.TRANSFORMER.KEY_DIM = 4
    head.TRANSFORMER.VAL_DIM = 4
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = len(OBJ_CLASSES)
    cfg.MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM = 24
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for name in parents:
            node = node[name]
        node[leaf] = value
    return cfg


def detector_cfg(predictor: str, task: str, fpn_channels: int = 8, resolution: int = 3,
                 **overrides):
    """``small_cfg`` plus a tiny R-18-FPN detector (random weights) with the relation head on."""
    cfg = small_cfg(predictor, task, **overrides)
    model = cfg.MODEL
    model.RELATION_ON = True
    model.BACKBONE.CONV_BODY = "R-18-FPN"
    model.RESNETS.TRANS_FUNC = "BasicBlockWithFixedBatchNorm"
    model.RESNETS.STEM_OUT_CHANNELS = 8
    model.RESNETS.RES2_OUT_CHANNELS = 8
    model.RESNETS.BACKBONE_OUT_CHANNELS = fpn_channels
    model.RPN.USE_FPN = True
    model.RPN.ANCHOR_SIZES = (16, 32, 64, 128, 256)
    model.RPN.ANCHOR_STRIDE = (4, 8, 16, 32, 64)
    model.RPN.RPN_MID_CHANNEL = 8
    model.RPN.PRE_NMS_TOP_N_TRAIN = model.RPN.PRE_NMS_TOP_N_TEST = 100
    model.RPN.POST_NMS_TOP_N_TRAIN = model.RPN.POST_NMS_TOP_N_TEST = 40
    model.RPN.FPN_POST_NMS_TOP_N_TRAIN = model.RPN.FPN_POST_NMS_TOP_N_TEST = 40
    model.RPN.FPN_POST_NMS_PER_BATCH = False
    model.ROI_RELATION_HEAD.ADD_GTBOX_TO_PROPOSAL_IN_TRAIN = True
    model.ROI_HEADS.USE_FPN = True
    model.ROI_HEADS.SCORE_THRESH = 0.0
    model.ROI_HEADS.DETECTIONS_PER_IMG = 8
    model.ROI_BOX_HEAD.POOLER_RESOLUTION = resolution
    model.ROI_BOX_HEAD.POOLER_SCALES = (0.25, 0.125, 0.0625, 0.03125)
    model.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO = 2
    return cfg


def random_boxes(num: int, size=(64, 48), generator=None) -> torch.Tensor:
    """xyxy boxes inside an image of ``size`` (W, H)."""
    width, height = size
    xy = torch.rand(num, 2, generator=generator) * torch.tensor([width * 0.6, height * 0.6])
    wh = 4 + torch.rand(num, 2, generator=generator) * torch.tensor([width * 0.35, height * 0.35])
    return torch.cat((xy, (xy + wh).clamp(max=torch.tensor([width - 1.0, height - 1.0]))), 1)


def make_target(num: int, relations, size=(64, 48), generator=None) -> BoxList:
    """A GT BoxList with labels and an N x N relation matrix from (s, o, predicate) triplets."""
    target = BoxList(random_boxes(num, size, generator), size)
    labels = torch.randint(1, len(OBJ_CLASSES), (num,), generator=generator)
    target.add_field("labels", labels)
    relation = torch.zeros((num, num), dtype=torch.int64)
    for s, o, p in relations:
        relation[s, o] = p
    target.add_field("relation", relation, is_triplet=True)
    return target


def proposals_for(task: str, target: BoxList, num_det: int = 6, generator=None) -> BoxList:
    """What the frozen detector hands the relation head in ``task`` for this image."""
    num_cls = len(OBJ_CLASSES)
    if task in ("predcls", "sgcls"):
        proposal = BoxList(target.bbox.clone(), target.size)
        proposal.add_field("labels", target.get_field("labels").clone())
        if task == "sgcls":
            proposal.add_field("predict_logits", torch.randn(len(target), num_cls,
                                                             generator=generator))
        return proposal
    boxes = torch.cat((target.bbox + torch.randn(target.bbox.shape, generator=generator),
                       random_boxes(num_det, target.size, generator)))
    boxes = boxes.clamp(min=0)
    num = len(boxes)
    proposal = BoxList(boxes, target.size)
    labels = torch.cat((target.get_field("labels"), torch.zeros(num_det, dtype=torch.int64)))
    proposal.add_field("labels", labels)
    logits = torch.randn(num, num_cls, generator=generator)
    proposal.add_field("predict_logits", logits)
    jitter = torch.randn(num, num_cls, 4, generator=generator)
    proposal.add_field("boxes_per_cls", (boxes[:, None, :] + jitter).clamp(min=0))
    scores, pred = torch.softmax(logits, 1)[:, 1:].max(1)
    proposal.add_field("pred_scores", scores)
    proposal.add_field("pred_labels", pred + 1)
    return proposal
