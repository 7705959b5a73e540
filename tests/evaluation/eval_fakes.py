"""Tiny fakes for evaluation tests: a dataset, prediction builders and train statistics."""

from __future__ import annotations

import numpy as np
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.structures.bounding_box import BoxList


class FakeDataset:
    """The evaluation side of the dataset contract, over hand-built images.

    Each image: dict with gt_boxes [G,4] (original pixels), gt_labels [G], relations [R,3],
    width, height.
    """

    def __init__(self, images, num_classes=6, num_predicates=6):
        self.images = images
        self.ind_to_classes = ["__background__"] + [f"obj{i}" for i in range(1, num_classes)]
        self.ind_to_predicates = ["__background__"] + [f"rel{i}" for i in range(1, num_predicates)]

    def __len__(self):
        return len(self.images)

    def get_img_info(self, index):
        image = self.images[index]
        return {"width": image["width"], "height": image["height"], "image_id": index,
                "file_name": f"img{index}.jpg"}

    def get_groundtruth(self, index, evaluation=False, flip_img=False):
        image = self.images[index]
        target = BoxList(torch.as_tensor(image["gt_boxes"], dtype=torch.float32).reshape(-1, 4),
                         (image["width"], image["height"]))
        target.add_field("labels", torch.as_tensor(image["gt_labels"], dtype=torch.int64))
        if evaluation:
            target.add_field("relation_tuple",
                             torch.as_tensor(image["relations"], dtype=torch.int64).reshape(-1, 3))
        return target


def gt_image(boxes, labels, relations, width=100, height=100):
    """One FakeDataset image."""
    return {"gt_boxes": boxes, "gt_labels": labels, "relations": relations, "width": width,
            "height": height}


def rel_score_rows(rows, num_predicates=6):
    """[P, C] scores from {predicate: score} dicts (background takes the rest)."""
    scores = np.zeros((len(rows), num_predicates), dtype=np.float32)
    for i, row in enumerate(rows):
        for predicate, value in row.items():
            scores[i, predicate] = value
        scores[i, 0] = max(0.0, 1.0 - sum(row.values()))
    return scores


def prediction(boxes, labels, scores, pairs, rel_scores, size=(100, 100)):
    """A prediction BoxList in the contract format (frame of ``size``)."""
    boxlist = BoxList(torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4), size)
    boxlist.add_field("pred_labels", torch.as_tensor(labels, dtype=torch.int64))
    boxlist.add_field("pred_scores", torch.as_tensor(scores, dtype=torch.float32))
    boxlist.add_field("rel_pair_idxs", torch.as_tensor(pairs, dtype=torch.int64).reshape(-1, 2))
    rel = torch.as_tensor(np.asarray(rel_scores), dtype=torch.float32)
    boxlist.add_field("pred_rel_scores", rel)
    labels_out = rel[:, 1:].argmax(1) + 1 if len(rel) else torch.zeros(0, dtype=torch.int64)
    boxlist.add_field("pred_rel_labels", labels_out)
    return boxlist


class FakeStatistics:
    """train_triplet_count over a {(subject class, object class, predicate): count} dict."""

    def __init__(self, counts):
        self.counts = dict(counts)
        self.calls = 0

    def train_triplet_count(self, triplets):
        self.calls += 1
        return torch.tensor([self.counts.get(tuple(t), 0) for t in triplets.tolist()],
                            dtype=torch.int64)


def _relations(target):
    if target.has_field("relation_tuple"):
        return target.get_field("relation_tuple").tolist()
    matrix = target.get_field("relation")  # VGDataset training-style target: [N, N] predicates
    return [[s, o, int(matrix[s, o])] for s, o in torch.nonzero(matrix).tolist()]


class FakeRelationModel(torch.nn.Module):
    """Returns contract-format PredCls predictions that recall the target's relations."""

    def __init__(self, num_predicates=6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.num_predicates = num_predicates
        self.calls = 0

    def forward(self, images, targets):
        assert not self.training and not torch.is_grad_enabled()
        self.calls += 1
        outputs = []
        for target in targets:
            n = len(target)
            subjects, objects = torch.nonzero(~torch.eye(n, dtype=torch.bool), as_tuple=True)
            pairs = torch.stack([subjects, objects], 1)
            rel_scores = torch.zeros(len(pairs), self.num_predicates)
            rel_scores[:, 0] = 1.0
            for s, o, p in _relations(target):
                row = (pairs[:, 0] == s) & (pairs[:, 1] == o)
                rel_scores[row, 0], rel_scores[row, p] = 0.1, 0.9
            order = torch.sort(rel_scores[:, 1:].max(1).values, descending=True, stable=True)[1]
            out = BoxList(target.bbox.clone(), target.size)
            out.add_field("pred_labels", target.get_field("labels"))
            out.add_field("pred_scores", torch.ones(n))
            out.add_field("rel_pair_idxs", pairs[order])
            out.add_field("pred_rel_scores", rel_scores[order] * self.weight)
            out.add_field("pred_rel_labels", rel_scores[order][:, 1:].argmax(1) + 1)
            if target.has_field("index"):  # ImageDataset marks its targets for the gather tests
                out.add_field("index", target.get_field("index"))
            outputs.append(out)
        return outputs


def make_cfg(output_dir="."):
    cfg = get_cfg()
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.ROI_RELATION_HEAD.USE_GT_BOX = True
    cfg.MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL = True
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 6
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.SOLVER.VAL_METRIC = "mR@50"
    cfg.OUTPUT_DIR = str(output_dir)
    return cfg
