"""Sparse message aggregation over a batched edge list (gather / ``index_add``, no N x N)."""

from __future__ import annotations

import enum

from torch import Tensor

__all__ = ["Aggregation", "scatter_sum", "aggregate_neighbour_nodes", "aggregate_incoming_edges"]


class Aggregation(enum.Enum):
    """How a node collects the states of its neighbours (ENERGY_MODEL.MESSAGE_AGGREGATION).

    ``REFERENCE`` (EBM code): a subject i averages the states of the objects it points to
    (outgoing neighbours j of i -> j); isolated nodes receive zeros. ``SUM`` (Eq. 7 read
    literally): node i sums the states of the nodes j with an edge j -> i, the same neighbour
    set as its incoming edge messages. Edge-to-node messages are the sum of incoming edges
    in both cases.
    """

    REFERENCE = "reference"
    SUM = "sum"


def scatter_sum(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """Row ``k`` of the result is the sum of the rows ``src[e]`` with ``index[e] == k``."""
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.index_add(0, index, src)


def aggregate_neighbour_nodes(node_states: Tensor, edge_index: Tensor,
                              aggregation: Aggregation) -> Tensor:
    """Node-to-node messages before the kernel: [N, d] aggregated neighbour states."""
    num_nodes = node_states.shape[0]
    if aggregation is Aggregation.REFERENCE:
        receivers, senders = edge_index[:, 0], edge_index[:, 1]
        sums = scatter_sum(node_states.index_select(0, senders), receivers, num_nodes)
        degree = scatter_sum(receivers.new_ones(receivers.shape, dtype=node_states.dtype),
                             receivers, num_nodes)
        return sums / degree.clamp(min=1.0).unsqueeze(-1)
    senders, receivers = edge_index[:, 0], edge_index[:, 1]
    return scatter_sum(node_states.index_select(0, senders), receivers, num_nodes)


def aggregate_incoming_edges(edge_states: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
    """Edge-to-node messages before the kernel: node j sums the states of edges i -> j."""
    return scatter_sum(edge_states, edge_index[:, 1], num_nodes)
