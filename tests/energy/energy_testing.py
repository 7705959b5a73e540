"""Tiny energy models, graphs and relation-head outputs shared by the energy tests."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from maskrcnn_benchmark.modeling.energy import Aggregation, GraphEnergyModel
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SceneGraph

NUM_OBJ = 5
NUM_REL = 4
ROI_DIM = 6


@dataclass
class FakeHeadOutput:
    """Same fields as the relation head's RelationHeadOutput (duck-typed by the energy code)."""

    proposals: list
    rel_pair_idxs: list
    relation_logits: list
    refine_logits: list
    roi_features: torch.Tensor
    rel_labels: list | None = None
    target_roi_features: torch.Tensor | None = None


def make_model(**overrides) -> GraphEnergyModel:
    """A small GraphEnergyModel with distinct widths (so a wrong wiring fails on shapes)."""
    args = dict(num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL, roi_feature_dim=ROI_DIM,
                obj_embed_dim=7, rel_embed_dim=9, obj_label_embed_dim=8, rel_label_embed_dim=10,
                pooling_dim=11, iters=2, alpha=0.3, aggregation=Aggregation.REFERENCE,
                use_image_graph=True)
    args.update(overrides)
    return GraphEnergyModel(**args)


def random_boxes(num: int, size=(64, 48)) -> BoxList:
    """``num`` valid xyxy boxes inside an image of ``size`` (W, H)."""
    xy = torch.rand(num, 2) * torch.tensor([size[0] / 2, size[1] / 2])
    wh = torch.rand(num, 2) * torch.tensor([size[0] / 2 - 1, size[1] / 2 - 1]) + 1
    return BoxList(torch.cat([xy, xy + wh], dim=1), size)


def all_pairs(num: int) -> torch.Tensor:
    """All ordered pairs i != j of ``num`` nodes, [num*(num-1), 2]."""
    idx = torch.arange(num)
    pairs = torch.cartesian_prod(idx, idx)
    return pairs[pairs[:, 0] != pairs[:, 1]]


def random_graph(nodes_per_image: list[int], pairs: list[torch.Tensor] | None = None,
                 dtype=torch.float32) -> SceneGraph:
    """A batched graph with random [0, 1] states, all ordered pairs unless ``pairs`` is given."""
    pairs = pairs if pairs is not None else [all_pairs(n) for n in nodes_per_image]
    return SceneGraph.from_images(
        node_states=[torch.rand(n, NUM_OBJ, dtype=dtype) for n in nodes_per_image],
        edge_states=[torch.rand(p.shape[0], NUM_REL, dtype=dtype) for p in pairs],
        pair_idxs=pairs,
        node_positions=[torch.rand(n, 9, dtype=dtype) for n in nodes_per_image],
        image_node_features=[torch.randn(n, ROI_DIM, dtype=dtype) for n in nodes_per_image],
    )


def make_head_output(nodes_per_image: list[int], with_relations: bool = True) -> tuple:
    """(FakeHeadOutput, targets) for GT-box tasks: proposals are the GT boxes, all pairs scored.

    Relation and refine logits are leaves requiring grad, so tests can check gradient flow.
    """
    targets, proposals = [], []
    for n in nodes_per_image:
        boxes = random_boxes(n)
        labels = torch.randint(1, NUM_OBJ, (n,))
        relation = torch.zeros(n, n, dtype=torch.long)
        if with_relations and n > 1:
            relation[0, 1] = 2
            relation[n - 1, 0] = 3
        target = BoxList(boxes.bbox, boxes.size)
        target.add_field("labels", labels)
        target.add_field("relation", relation, is_triplet=True)
        proposal = BoxList(boxes.bbox, boxes.size)
        proposal.add_field("labels", labels)
        targets.append(target)
        proposals.append(proposal)
    pairs = [all_pairs(n) for n in nodes_per_image]
    output = FakeHeadOutput(
        proposals=proposals,
        rel_pair_idxs=pairs,
        relation_logits=[torch.randn(p.shape[0], NUM_REL, requires_grad=True) for p in pairs],
        refine_logits=[torch.randn(n, NUM_OBJ, requires_grad=True) for n in nodes_per_image],
        roi_features=torch.randn(sum(nodes_per_image), ROI_DIM, requires_grad=True),
    )
    return output, targets


class LinearEnergy(nn.Module):
    """E_b = sum over image b's edges of edge_state . v, plus c (no image graph)."""

    use_image_graph = False

    def __init__(self):
        super().__init__()
        self.v = nn.Parameter(torch.tensor([0.3, -1.2, 0.8, 2.0]))
        self.c = nn.Parameter(torch.tensor(-0.4))

    def image_embedding(self, graph):
        return None

    def forward(self, graph, image_embedding=None):
        per_edge = graph.edge_states @ self.v
        return torch.zeros(graph.num_graphs).index_add(0, graph.edge_batch, per_edge) + self.c
