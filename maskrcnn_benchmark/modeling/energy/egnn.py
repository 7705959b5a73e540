"""Edge Graph Neural Network (EBM paper Sec. 3.4.1, Eq. 7-8) on a sparse, batched edge list."""

from __future__ import annotations

from torch import Tensor, nn

from .message_passing import Aggregation, EdgeDirections, aggregate_edges, aggregate_neighbour_nodes

__all__ = ["EGNNLayer", "two_layer_kernel"]


def two_layer_kernel(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """Linear-ReLU-Linear-ReLU, the message kernel shape of the EBM code."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(),
                         nn.Linear(hidden_dim, out_dim), nn.ReLU())


class EGNNLayer(nn.Module):
    """``iters`` rounds of node and direction-aware edge updates with shared weights.

    Each round computes every message from the previous round's states:
    ``m_i = alpha * K_nn(agg_j n_j) + (1 - alpha) * K_en(agg_{j->i} e_{j->i})`` (Eq. 7),
    ``d_{i->j} = K_ne([n_i || n_j])`` (Eq. 8; the concatenation order makes it direction
    aware), then ``n_i <- GRU(m_i, n_i)`` and ``e_{i->j} <- GRU(d_{i->j}, e_{i->j})``.
    With ``EdgeDirections.BOTH`` the edge term becomes
    ``K_en(agg_{j->i} e_{j->i}) + K_en_out(agg_{i->j} e_{i->j})`` (separate kernel for the
    outgoing edges); ``agg`` sums or averages as ``aggregation`` says.
    """

    def __init__(self, *, node_dim: int, edge_dim: int, message_dim: int, iters: int,
                 alpha: float, aggregation: Aggregation,
                 edge_directions: EdgeDirections = EdgeDirections.INCOMING) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"ENERGY_MODEL.ALPHA must lie in [0, 1], got {alpha}")
        if iters < 0:
            raise ValueError(f"ENERGY_MODEL.ITERS must be >= 0, got {iters}")
        self.iters = iters
        self.alpha = alpha
        self.aggregation = aggregation
        self.edge_directions = edge_directions
        self.node2node_kernel = two_layer_kernel(node_dim, node_dim, node_dim)
        self.edge2node_kernel = two_layer_kernel(edge_dim, node_dim, node_dim)
        if edge_directions is EdgeDirections.BOTH:
            self.edge2node_out_kernel = two_layer_kernel(edge_dim, node_dim, node_dim)
        self.node2edge_kernel = two_layer_kernel(2 * node_dim, message_dim, message_dim)
        self.node_gate = nn.GRUCell(node_dim, node_dim)
        # Bias-free as in the EBM code (there it kept absent edges of a dense grid at zero).
        self.edge_gate = nn.GRUCell(message_dim, edge_dim, bias=False)

    def forward(self, node_states: Tensor, edge_states: Tensor,
                edge_index: Tensor) -> tuple[Tensor, Tensor]:
        """Refine [N, node_dim] node and [E, edge_dim] edge states over ``edge_index`` [E, 2]."""
        subjects, objects = edge_index[:, 0], edge_index[:, 1]
        for _ in range(self.iters):
            node2node = self.node2node_kernel(
                aggregate_neighbour_nodes(node_states, edge_index, self.aggregation))
            edge2node = self._edge_to_node(edge_states, edge_index, node_states.shape[0])
            node2edge = self._node_to_edge(node_states, subjects, objects)
            messages = self.alpha * node2node + (1.0 - self.alpha) * edge2node
            node_states, edge_states = (self.node_gate(messages, node_states),
                                        self.edge_gate(node2edge, edge_states))
        return node_states, edge_states

    def _edge_to_node(self, edge_states: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
        """``K_en`` of the incoming edges (plus ``K_en_out`` of the outgoing ones if BOTH)."""
        incoming = self.edge2node_kernel(
            aggregate_edges(edge_states, edge_index, num_nodes, self.aggregation))
        if self.edge_directions is EdgeDirections.INCOMING:
            return incoming
        return incoming + self.edge2node_out_kernel(
            aggregate_edges(edge_states, edge_index, num_nodes, self.aggregation, outgoing=True))

    def _node_to_edge(self, node_states: Tensor, subjects: Tensor, objects: Tensor) -> Tensor:
        """``K_ne([n_i || n_j])`` for every edge, with the first (linear) layer applied per node.

        ``W [n_i || n_j] + b = W_s n_i + W_o n_j + b``: projecting the N nodes once and
        gathering per edge costs O(N d m) instead of O(E d m) and gives the same values.
        """
        first, rest = self.node2edge_kernel[0], self.node2edge_kernel[1:]
        node_dim = node_states.shape[-1]
        as_subject = nn.functional.linear(node_states, first.weight[:, :node_dim], first.bias)
        as_object = nn.functional.linear(node_states, first.weight[:, node_dim:])
        hidden = as_subject.index_select(0, subjects) + as_object.index_select(0, objects)
        return rest(hidden)

