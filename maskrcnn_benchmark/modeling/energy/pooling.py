"""Gated pooling of node and edge states into one vector per image (EBM paper Eq. 9-10).

Per image, ``reduce_k gate(s_k) * s_k`` over its rows, then a Linear projection. The gate
(ENERGY_MODEL.POOLING_GATE) is ``sigmoid(Linear(s))`` by default: the paper calls f_gate and
g_gate "gating functions" and the pooling follows GGNN's gated readout, whose gates are
sigmoids. ``raw`` uses the linear score itself, as the EBM code does (unbounded, so the pooled
vector is quadratic in the states). The reduction (ENERGY_MODEL.POOLING) is the paper's sum or
a per-image mean, which the number of nodes and edges does not move by itself; an image
without rows pools to zeros either way.
"""

from __future__ import annotations

import enum

import torch
from torch import Tensor, nn

from .message_passing import scatter_mean, scatter_sum

__all__ = ["Pooling", "PoolingGate", "GatedPooling", "EdgeGatedPooling", "gated_readout"]


class Pooling(enum.Enum):
    """Per-image reduction of the gated states (ENERGY_MODEL.POOLING)."""

    SUM = "sum"
    MEAN = "mean"


class PoolingGate(enum.Enum):
    """Gate applied to each row before the reduction (ENERGY_MODEL.POOLING_GATE)."""

    SIGMOID = "sigmoid"
    RAW = "raw"


def gated_readout(states: Tensor, gate: nn.Module, batch: Tensor, num_graphs: int,
                  gate_kind: PoolingGate = PoolingGate.SIGMOID,
                  pooling: Pooling = Pooling.SUM) -> Tensor:
    """[B, d]: per image, the sum (or mean) of ``gate(s) * s`` over its rows."""
    score = gate(states)
    weights = torch.sigmoid(score) if gate_kind is PoolingGate.SIGMOID else score
    reduce = scatter_mean if pooling is Pooling.MEAN else scatter_sum
    return reduce(weights * states, batch, num_graphs)


class GatedPooling(nn.Module):
    """Image-graph readout: ``Linear(reduce_k f_gate(n_k) * n_k)`` (Eq. 9)."""

    def __init__(self, *, node_dim: int, pooling_dim: int, pooling: Pooling = Pooling.SUM,
                 gate: PoolingGate = PoolingGate.SIGMOID) -> None:
        super().__init__()
        self.pooling = pooling
        self.gate_kind = gate
        self.node_gate = nn.Linear(node_dim, 1)
        self.projection = nn.Linear(node_dim, pooling_dim)

    def forward(self, node_states: Tensor, node_batch: Tensor, num_graphs: int) -> Tensor:
        """[B, pooling_dim] from [N, node_dim] node states."""
        return self.projection(gated_readout(node_states, self.node_gate, node_batch,
                                             num_graphs, self.gate_kind, self.pooling))


class EdgeGatedPooling(nn.Module):
    """Scene-graph readout: ``Linear([N || E])`` with N, E the gated readouts of Eq. 9 and 10."""

    def __init__(self, *, node_dim: int, edge_dim: int, pooling_dim: int,
                 pooling: Pooling = Pooling.SUM, gate: PoolingGate = PoolingGate.SIGMOID) -> None:
        super().__init__()
        self.pooling = pooling
        self.gate_kind = gate
        self.node_gate = nn.Linear(node_dim, 1)
        self.edge_gate = nn.Linear(edge_dim, 1)
        self.projection = nn.Linear(node_dim + edge_dim, pooling_dim)

    def forward(self, node_states: Tensor, edge_states: Tensor, node_batch: Tensor,
                edge_batch: Tensor, num_graphs: int) -> Tensor:
        """[B, pooling_dim] from node [N, node_dim] and edge [E, edge_dim] states."""
        nodes = gated_readout(node_states, self.node_gate, node_batch, num_graphs,
                              self.gate_kind, self.pooling)
        edges = gated_readout(edge_states, self.edge_gate, edge_batch, num_graphs,
                              self.gate_kind, self.pooling)
        return self.projection(torch.cat([nodes, edges], dim=-1))
