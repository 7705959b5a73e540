"""Gated pooling of node and edge states into one vector per image (EBM paper Eq. 9-10).

The gates are ``sigmoid(Linear(state))``: the paper calls f_gate and g_gate "gating functions"
and the pooling follows GGNN's gated readout, whose gates are sigmoids. The EBM code uses the
raw linear score as the gate, which is unbounded and makes the pooled vector quadratic in the
states; we keep the gate in (0, 1).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .message_passing import scatter_sum

__all__ = ["GatedPooling", "EdgeGatedPooling", "gated_sum"]


def gated_sum(states: Tensor, gate: nn.Module, batch: Tensor, num_graphs: int) -> Tensor:
    """[B, d]: per image, the sum of ``sigmoid(gate(s)) * s`` over its rows."""
    return scatter_sum(torch.sigmoid(gate(states)) * states, batch, num_graphs)


class GatedPooling(nn.Module):
    """Image-graph readout: ``Linear(sum_k f_gate(n_k) * n_k)`` (Eq. 9)."""

    def __init__(self, *, node_dim: int, pooling_dim: int) -> None:
        super().__init__()
        self.node_gate = nn.Linear(node_dim, 1)
        self.projection = nn.Linear(node_dim, pooling_dim)

    def forward(self, node_states: Tensor, node_batch: Tensor, num_graphs: int) -> Tensor:
        """[B, pooling_dim] from [N, node_dim] node states."""
        return self.projection(gated_sum(node_states, self.node_gate, node_batch, num_graphs))


class EdgeGatedPooling(nn.Module):
    """Scene-graph readout: ``Linear([N || E])`` with N, E the gated sums of Eq. 9 and 10."""

    def __init__(self, *, node_dim: int, edge_dim: int, pooling_dim: int) -> None:
        super().__init__()
        self.node_gate = nn.Linear(node_dim, 1)
        self.edge_gate = nn.Linear(edge_dim, 1)
        self.projection = nn.Linear(node_dim + edge_dim, pooling_dim)

    def forward(self, node_states: Tensor, edge_states: Tensor, node_batch: Tensor,
                edge_batch: Tensor, num_graphs: int) -> Tensor:
        """[B, pooling_dim] from node [N, node_dim] and edge [E, edge_dim] states."""
        nodes = gated_sum(node_states, self.node_gate, node_batch, num_graphs)
        edges = gated_sum(edge_states, self.edge_gate, edge_batch, num_graphs)
        return self.projection(torch.cat([nodes, edges], dim=-1))
