"""Per-graph statistics of edge states that need no structure to compute (shortcut features).

An energy model can tell the GT graph G+ from the sampled graph G- by these alone: how many
edges a graph has and what its predicate rows look like (one-hot rows have L1 norm 1, maximum 1
and entropy 0; min-max normalised logit rows do not). The shortcut probe fits a linear
classifier on them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from maskrcnn_benchmark.structures.scene_graph import SceneGraph

__all__ = ["GRAPH_FEATURES", "graph_statistics", "select_graph"]

# Column names of ``graph_statistics``.
GRAPH_FEATURES = ("edge_count", "row_l1", "row_max", "row_entropy", "background_mass")


def graph_statistics(graph: SceneGraph) -> Tensor:
    """[B, 5] float64 per image: edge count, and over its edges the mean row L1 norm, row
    maximum, row entropy and background mass of the edge states (0 for an image without edges).

    Entropy and background mass treat a row as the distribution ``|x| / sum |x|``; background
    mass is the share of column 0 (the background predicate).
    """
    states = graph.edge_states.detach().double()
    magnitude = states.abs()
    l1 = magnitude.sum(dim=1)
    dist = magnitude / l1.clamp_min(1e-12).unsqueeze(1)
    entropy = -(dist * torch.log(dist.clamp_min(1e-12))).sum(dim=1)
    per_edge = torch.stack([l1, states.max(dim=1).values, entropy, dist[:, 0]], dim=1)
    count = torch.bincount(graph.edge_batch, minlength=graph.num_graphs).double()
    sums = torch.zeros(graph.num_graphs, per_edge.shape[1], dtype=torch.float64,
                       device=states.device)
    sums.index_add_(0, graph.edge_batch, per_edge)
    means = sums / count.clamp_min(1).unsqueeze(1)
    return torch.cat([count.unsqueeze(1), means], dim=1).cpu()


def select_graph(graph: SceneGraph, image: int) -> SceneGraph:
    """Image ``image`` of a batched graph as a one-image graph (local node indices)."""
    if not 0 <= image < graph.num_graphs:
        raise IndexError(f"select_graph: image {image} of a batch of {graph.num_graphs}")
    nodes = (graph.node_batch == image).nonzero(as_tuple=True)[0]
    edges = (graph.edge_batch == image).nonzero(as_tuple=True)[0]
    first = int(nodes[0]) if nodes.numel() else 0
    features = graph.image_node_features
    return SceneGraph.from_images(
        node_states=[graph.node_states[nodes]],
        edge_states=[graph.edge_states[edges]],
        pair_idxs=[graph.edge_index[edges] - first],
        node_positions=[graph.node_positions[nodes]],
        image_node_features=None if features is None else features[nodes],
    )
