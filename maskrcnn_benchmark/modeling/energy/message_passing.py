"""Sparse message aggregation over a batched edge list (gather / ``index_add``, no N x N)."""

from __future__ import annotations

import enum

from torch import Tensor

__all__ = ["Aggregation", "EdgeDirections", "scatter_sum", "scatter_mean",
           "aggregate_neighbour_nodes", "aggregate_edges"]


class Aggregation(enum.Enum):
    """How a node collects the states of its neighbours (ENERGY_MODEL.MESSAGE_AGGREGATION).

    ``REFERENCE`` (EBM code): a subject i averages the states of the objects it points to
    (outgoing neighbours j of i -> j) and sums its edge states. ``SUM`` (Eq. 7 read literally):
    node i sums the states of the nodes j with an edge j -> i and sums its edge states.
    ``MEAN`` (degree-normalised Eq. 7): node i averages the states of the nodes j with an edge
    j -> i and averages its edge states, so neither message grows with the number of edges
    (and neither can count them). Isolated nodes receive zeros in every case.
    """

    REFERENCE = "reference"
    SUM = "sum"
    MEAN = "mean"


class EdgeDirections(enum.Enum):
    """Which edges a node's edge-to-node message collects (ENERGY_MODEL.EDGE_DIRECTIONS).

    ``INCOMING`` (Eq. 7, EBM code): the edges j -> i. ``BOTH``: the incoming edges and, through
    a kernel of their own, the outgoing edges i -> j, so a node can count what it points to.
    """

    INCOMING = "incoming"
    BOTH = "both"


def scatter_sum(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """Row ``k`` of the result is the sum of the rows ``src[e]`` with ``index[e] == k``."""
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.index_add(0, index, src)


def scatter_mean(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """Row ``k`` is the mean of the rows ``src[e]`` with ``index[e] == k``; zeros if none."""
    sums = scatter_sum(src, index, dim_size)
    count = scatter_sum(index.new_ones(index.shape, dtype=src.dtype), index, dim_size)
    return sums / count.clamp(min=1.0).unsqueeze(-1)


def aggregate_neighbour_nodes(node_states: Tensor, edge_index: Tensor,
                              aggregation: Aggregation) -> Tensor:
    """Node-to-node messages before the kernel: [N, d] aggregated neighbour states."""
    num_nodes = node_states.shape[0]
    if aggregation is Aggregation.REFERENCE:  # subjects average the objects they point to
        receivers, senders = edge_index[:, 0], edge_index[:, 1]
        return scatter_mean(node_states.index_select(0, senders), receivers, num_nodes)
    senders, receivers = edge_index[:, 0], edge_index[:, 1]
    reduce = scatter_mean if aggregation is Aggregation.MEAN else scatter_sum
    return reduce(node_states.index_select(0, senders), receivers, num_nodes)


def aggregate_edges(edge_states: Tensor, edge_index: Tensor, num_nodes: int,
                    aggregation: Aggregation, outgoing: bool = False) -> Tensor:
    """Edge-to-node messages before the kernel: [N, d] per node, over its edges i -> j.

    Node j collects its incoming edges (``outgoing=False``), node i its outgoing ones
    (``outgoing=True``); averaged under ``Aggregation.MEAN``, summed otherwise.
    """
    receivers = edge_index[:, 0] if outgoing else edge_index[:, 1]
    reduce = scatter_mean if aggregation is Aggregation.MEAN else scatter_sum
    return reduce(edge_states, receivers, num_nodes)
