"""Batched copies of a scene-graph batch with one label changed each (energy-guided decoding).

``replicate_images`` builds a batch in which graph m is a copy of image ``image_ids[m]``;
``energies_of_changes`` evaluates, in chunks of as many graphs as the batch holds (so memory
stays that of one forward pass of the batch), the exact energies of the graphs that differ
from the current labelling in one edge each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.structures.scene_graph import SceneGraph

__all__ = ["replicate_images", "energies_of_changes"]


def _ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """Concatenated ``arange(start, start + count)`` for every (start, count)."""
    first = torch.cumsum(counts, 0) - counts
    within = torch.arange(int(counts.sum()), device=counts.device) \
        - torch.repeat_interleave(first, counts)
    return torch.repeat_interleave(starts, counts) + within


def replicate_images(graph: SceneGraph, image_ids: Tensor) -> tuple[SceneGraph, Tensor, Tensor]:
    """A batch of copies: graph m is image ``image_ids[m]`` of ``graph``.

    Returns (copies, edge_source, edge_start): the original edge row of every copy edge, and
    where copy m's edges start; copy m's k-th edge is its image's k-th edge.
    """
    num, device = graph.num_graphs, graph.edge_index.device
    node_counts = torch.bincount(graph.node_batch, minlength=num)
    edge_counts = torch.bincount(graph.edge_batch, minlength=num)
    node_order = torch.argsort(graph.node_batch, stable=True)
    edge_order = torch.argsort(graph.edge_batch, stable=True)
    node_start = torch.cumsum(node_counts, 0) - node_counts
    edge_start = torch.cumsum(edge_counts, 0) - edge_counts
    copy_nodes, copy_edges = node_counts[image_ids], edge_counts[image_ids]
    node_source = node_order[_ranges(node_start[image_ids], copy_nodes)]
    edge_source = edge_order[_ranges(edge_start[image_ids], copy_edges)]
    local_node = torch.empty_like(node_order)
    local_node[node_order] = torch.arange(graph.num_nodes, device=device)
    local_node = local_node - node_start[graph.node_batch]
    copies = torch.arange(len(image_ids), device=device)
    edge_batch = torch.repeat_interleave(copies, copy_edges)
    new_node_start = torch.cumsum(copy_nodes, 0) - copy_nodes
    features = graph.image_node_features
    replicated = SceneGraph(
        node_states=graph.node_states[node_source],
        edge_states=graph.edge_states[edge_source],
        edge_index=local_node[graph.edge_index[edge_source]] + new_node_start[edge_batch, None],
        node_batch=torch.repeat_interleave(copies, copy_nodes),
        edge_batch=edge_batch,
        num_graphs=len(image_ids),
        node_positions=graph.node_positions[node_source],
        image_node_features=None if features is None else features[node_source],
    )
    return replicated, edge_source, torch.cumsum(copy_edges, 0) - copy_edges


@torch.no_grad()
def energies_of_changes(energy_model: nn.Module, graph: SceneGraph,
                        image_embedding: Tensor | None, labels: Tensor, rows: Tensor,
                        new_labels: Tensor) -> Tensor:
    """Exact [M] energies of the graphs with the single change ``rows[m] -> new_labels[m]``."""
    images = graph.edge_batch[rows]
    edge_order = torch.argsort(graph.edge_batch, stable=True)
    position = torch.empty_like(edge_order)
    position[edge_order] = torch.arange(graph.num_edges, device=rows.device)
    counts = torch.bincount(graph.edge_batch, minlength=graph.num_graphs)
    local = position[rows] - (torch.cumsum(counts, 0) - counts)[images]
    chunk = max(graph.num_graphs, 1)
    energies = []
    for begin in range(0, len(rows), chunk):
        part = slice(begin, begin + chunk)
        copies, edge_source, edge_start = replicate_images(graph, images[part])
        states = F.one_hot(labels[edge_source], graph.edge_states.shape[1]).float()
        changed = edge_start + local[part]
        states[changed] = F.one_hot(new_labels[part], states.shape[1]).float()
        embedding = None if image_embedding is None else image_embedding[images[part]]
        energies.append(energy_model(copies.with_states(edge_states=states), embedding).float())
    return torch.cat(energies)
