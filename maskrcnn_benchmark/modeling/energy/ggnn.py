"""Gated graph neural network on the image graph (EBM paper Sec. 3.4, Li et al. GGNN)."""

from __future__ import annotations

from torch import Tensor, nn

from .egnn import two_layer_kernel
from .message_passing import Aggregation, aggregate_neighbour_nodes

__all__ = ["GGNNLayer"]


class GGNNLayer(nn.Module):
    """``iters`` rounds of ``h <- GRU(K(agg_j h_j), h)`` with shared weights.

    ``agg`` follows ``aggregation`` (reference / sum / mean); the image graph has no edge
    states, so ENERGY_MODEL.EDGE_DIRECTIONS does not apply here.
    """

    def __init__(self, *, node_dim: int, iters: int, aggregation: Aggregation) -> None:
        super().__init__()
        if iters < 0:
            raise ValueError(f"ENERGY_MODEL.ITERS must be >= 0, got {iters}")
        self.iters = iters
        self.aggregation = aggregation
        self.node_kernel = two_layer_kernel(node_dim, node_dim, node_dim)
        self.node_gate = nn.GRUCell(node_dim, node_dim)

    def forward(self, node_states: Tensor, edge_index: Tensor) -> Tensor:
        """Refine [N, node_dim] node states over the directed edges ``edge_index`` [E, 2]."""
        for _ in range(self.iters):
            messages = self.node_kernel(
                aggregate_neighbour_nodes(node_states, edge_index, self.aggregation))
            node_states = self.node_gate(messages, node_states)
        return node_states
