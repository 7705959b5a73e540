"""EGNN and GGNN on sparse edge lists against slow per-node loops, and direction awareness."""

import pytest
import torch

from maskrcnn_benchmark.modeling.energy.egnn import EGNNLayer
from maskrcnn_benchmark.modeling.energy.ggnn import GGNNLayer
from maskrcnn_benchmark.modeling.energy.message_passing import Aggregation


def _neighbour_mean_or_sum(states, edges, node, aggregation):
    """Slow Eq. 7 neighbour aggregation of one node, by looping over the edge list."""
    if aggregation is Aggregation.REFERENCE:  # mean over the objects this subject points to
        rows = [states[j] for i, j in edges if i == node]
        return torch.stack(rows).mean(0) if rows else torch.zeros_like(states[0])
    rows = [states[i] for i, j in edges if j == node]  # nodes pointing to this node
    if not rows:
        return torch.zeros_like(states[0])
    return torch.stack(rows).mean(0) if aggregation is Aggregation.MEAN else torch.stack(
        rows).sum(0)


def _slow_egnn(layer, nodes, edge_states, edges):
    for _ in range(layer.iters):
        new_nodes, new_edges = [], []
        for n in range(nodes.shape[0]):
            to_node = _neighbour_mean_or_sum(nodes, edges, n, layer.aggregation)
            incoming = [edge_states[k] for k, (_, j) in enumerate(edges) if j == n]
            edge_sum = torch.zeros_like(edge_states[0]) if not incoming else (
                torch.stack(incoming).mean(0) if layer.aggregation is Aggregation.MEAN
                else torch.stack(incoming).sum(0))
            message = (layer.alpha * layer.node2node_kernel(to_node)
                       + (1 - layer.alpha) * layer.edge2node_kernel(edge_sum))
            new_nodes.append(layer.node_gate(message[None], nodes[n][None])[0])
        for k, (i, j) in enumerate(edges):
            d = layer.node2edge_kernel(torch.cat([nodes[i], nodes[j]]))
            new_edges.append(layer.edge_gate(d[None], edge_states[k][None])[0])
        nodes, edge_states = torch.stack(new_nodes), torch.stack(new_edges)
    return nodes, edge_states


EDGES = [(0, 1), (0, 2), (2, 1), (3, 4), (4, 3), (1, 0)]  # node 5 is isolated


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_egnn_matches_slow_per_node_loop(aggregation):
    layer = EGNNLayer(node_dim=6, edge_dim=5, message_dim=7, iters=3, alpha=0.3,
                      aggregation=aggregation)
    nodes, edge_states = torch.randn(6, 6), torch.randn(len(EDGES), 5)
    fast_nodes, fast_edges = layer(nodes, edge_states, torch.tensor(EDGES))
    slow_nodes, slow_edges = _slow_egnn(layer, nodes, edge_states, EDGES)
    assert torch.allclose(fast_nodes, slow_nodes, atol=1e-5)
    assert torch.allclose(fast_edges, slow_edges, atol=1e-5)


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_ggnn_matches_slow_per_node_loop(aggregation):
    layer = GGNNLayer(node_dim=6, iters=3, aggregation=aggregation)
    nodes = torch.randn(6, 6)
    fast = layer(nodes, torch.tensor(EDGES))
    slow = nodes
    for _ in range(3):
        slow = torch.stack([
            layer.node_gate(layer.node_kernel(
                _neighbour_mean_or_sum(slow, EDGES, n, aggregation))[None], slow[n][None])[0]
            for n in range(6)])
    assert torch.allclose(fast, slow, atol=1e-5)


def test_aggregations_differ_on_an_asymmetric_graph():
    torch.manual_seed(1)
    kwargs = dict(node_dim=6, edge_dim=5, message_dim=7, iters=1, alpha=1.0)
    reference = EGNNLayer(aggregation=Aggregation.REFERENCE, **kwargs)
    summed = EGNNLayer(aggregation=Aggregation.SUM, **kwargs)
    summed.load_state_dict(reference.state_dict())
    nodes, edge_states = torch.randn(6, 6), torch.randn(len(EDGES), 5)
    a, _ = reference(nodes, edge_states, torch.tensor(EDGES))
    b, _ = summed(nodes, edge_states, torch.tensor(EDGES))
    assert not torch.allclose(a, b, atol=1e-3)


def test_egnn_is_direction_aware():
    layer = EGNNLayer(node_dim=6, edge_dim=5, message_dim=7, iters=2, alpha=0.5,
                      aggregation=Aggregation.REFERENCE)
    nodes = torch.randn(2, 6)
    same_state = torch.randn(1, 5).expand(2, 5)
    _, edges = layer(nodes, same_state, torch.tensor([[0, 1], [1, 0]]))
    assert not torch.allclose(edges[0], edges[1], atol=1e-4)
    # Reversing the only edge changes its refined state too.
    _, forward = layer(nodes, same_state[:1], torch.tensor([[0, 1]]))
    _, backward = layer(nodes, same_state[:1], torch.tensor([[1, 0]]))
    assert not torch.allclose(forward, backward, atol=1e-4)


def test_layers_accept_graphs_without_edges_and_reject_bad_alpha():
    layer = EGNNLayer(node_dim=6, edge_dim=5, message_dim=7, iters=2, alpha=0.5,
                      aggregation=Aggregation.REFERENCE)
    nodes, edges = layer(torch.randn(3, 6), torch.zeros(0, 5), torch.zeros(0, 2).long())
    assert nodes.shape == (3, 6) and edges.shape == (0, 5) and torch.isfinite(nodes).all()
    with pytest.raises(ValueError, match="ALPHA"):
        EGNNLayer(node_dim=6, edge_dim=5, message_dim=7, iters=2, alpha=1.5,
                  aggregation=Aggregation.REFERENCE)
