"""SGLD: lowers energy, moves only the free states, is pure, and each GRAD_MODE's gradient."""

import dataclasses

import pytest
import torch
from energy_testing import make_model, random_graph

from maskrcnn_benchmark.modeling.energy import SGLD, GradMode, build_sampler
from maskrcnn_benchmark.modeling.energy.message_passing import scatter_sum
from maskrcnn_benchmark.modeling.energy.normalization import minmax_normalize


def _quadratic(edge_target, node_target=None):
    """E_b = sum over image b's rows of ||state - target||^2 (edges, and nodes if given)."""
    def energy(graph):
        per_edge = (graph.edge_states - edge_target).pow(2).sum(-1)
        total = scatter_sum(per_edge, graph.edge_batch, graph.num_graphs)
        if node_target is not None:
            per_node = (graph.node_states - node_target).pow(2).sum(-1)
            total = total + scatter_sum(per_node, graph.node_batch, graph.num_graphs)
        return total
    return energy


def _sgld(**overrides):
    args = dict(step_size=1.0, noise_std=1e-3, grad_clip=0.01, num_steps=20,
                grad_mode=GradMode.REFERENCE)
    args.update(overrides)
    return SGLD(**args)


def _targets(graph):
    edge_target = minmax_normalize(torch.rand_like(graph.edge_states))
    node_target = minmax_normalize(torch.rand_like(graph.node_states))
    return edge_target, node_target


def test_sgld_lowers_a_quadratic_energy_and_keeps_predcls_nodes():
    graph = random_graph([3, 4])
    graph = graph.with_states(edge_states=minmax_normalize(graph.edge_states))
    edge_target, node_target = _targets(graph)
    energy = _quadratic(edge_target, node_target)
    sampled = _sgld(grad_clip=0.05)(energy, graph, free_nodes=False)
    edge_energy = _quadratic(edge_target)
    assert (edge_energy(sampled) < 0.5 * edge_energy(graph)).all()
    assert sampled.node_states is graph.node_states  # PredCls: nodes untouched, bitwise
    assert not torch.equal(sampled.edge_states, graph.edge_states)
    rows = sampled.edge_states
    assert torch.allclose(rows.min(-1).values, torch.zeros(len(rows)))
    assert torch.allclose(rows.max(-1).values, torch.ones(len(rows)))


def test_sgld_moves_nodes_and_edges_when_nodes_are_free():
    graph = random_graph([3, 4])
    edge_target, node_target = _targets(graph)
    energy = _quadratic(edge_target, node_target)
    sampled = _sgld(grad_clip=0.05)(energy, graph, free_nodes=True)
    node_error = (sampled.node_states - node_target).pow(2).sum()
    assert node_error < 0.5 * (minmax_normalize(graph.node_states) - node_target).pow(2).sum()
    assert not torch.equal(sampled.edge_states, graph.edge_states)


def test_zero_steps_return_the_initial_states_and_nothing_is_mutated():
    graph = random_graph([3])
    edges_before = graph.edge_states.clone()
    same = _sgld(num_steps=0)(_quadratic(torch.zeros_like(graph.edge_states)), graph, True)
    assert torch.equal(same.edge_states, graph.edge_states)
    assert torch.equal(same.node_states, graph.node_states)
    _sgld()(_quadratic(torch.zeros_like(graph.edge_states)), graph, True)
    assert torch.equal(graph.edge_states, edges_before)


@pytest.mark.parametrize("grad_mode", list(GradMode))
def test_sampler_leaves_parameter_gradients_and_module_mode_alone(grad_mode):
    model = make_model().eval()
    graph = random_graph([3, 2])
    _sgld(num_steps=3, grad_mode=grad_mode)(model, graph, free_nodes=True)
    assert all(p.grad is None for p in model.parameters())
    assert not model.training


def test_sampler_gradient_is_float32_under_autocast():
    model = make_model()
    graph = random_graph([3, 2])
    sampler = _sgld(num_steps=3, noise_std=0.0)
    plain = sampler(model, graph, free_nodes=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = sampler(model, graph, free_nodes=True)
    assert mixed.edge_states.dtype == torch.float32
    assert torch.equal(plain.edge_states, mixed.edge_states)
    assert torch.equal(plain.node_states, mixed.node_states)


# Gradient modes on a tiny float64 case: 2 images, 3 edges with 3 predicate columns.
def _tiny_case():
    torch.manual_seed(3)
    graph = random_graph([2, 2], pairs=[torch.tensor([[0, 1], [1, 0]]), torch.tensor([[0, 1]])],
                         dtype=torch.float64)
    logits = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    edge_target = minmax_normalize(torch.rand(3, 4, dtype=torch.float64))
    weights = torch.randn(3, 4, dtype=torch.float64)
    return graph, logits, edge_target, weights


def _loss_after_sampling(grad_mode, logits, graph, edge_target, weights):
    sampler = _sgld(step_size=0.2, noise_std=0.0, grad_clip=10.0, num_steps=3,
                    grad_mode=grad_mode)
    start = graph.with_states(edge_states=minmax_normalize(logits))
    sampled = sampler(_quadratic(edge_target), start, free_nodes=False)
    return (weights * sampled.edge_states).sum(), sampled


def test_reference_mode_treats_steps_as_constants():
    graph, logits, edge_target, weights = _tiny_case()
    loss, _ = _loss_after_sampling(GradMode.REFERENCE, logits, graph, edge_target, weights)
    (grad,) = torch.autograd.grad(loss, logits)
    # Slow chain: x_t = minmax(x_{t-1} - lr * g_t) with g_t = 2 (x_{t-1} - target) constant.
    x = minmax_normalize(logits)
    for _ in range(3):
        x = minmax_normalize(x - 0.2 * (2 * (x - edge_target)).detach())
    (expected,) = torch.autograd.grad((weights * x).sum(), logits)
    assert torch.allclose(grad, expected, atol=1e-12)
    assert grad.abs().sum() > 0


def test_unroll_mode_matches_finite_differences_and_differs_from_reference():
    graph, logits, edge_target, weights = _tiny_case()
    loss, _ = _loss_after_sampling(GradMode.UNROLL, logits, graph, edge_target, weights)
    (grad,) = torch.autograd.grad(loss, logits)
    numeric = torch.zeros_like(logits)
    eps = 1e-6
    for index in range(logits.numel()):
        step = torch.zeros(logits.numel(), dtype=torch.float64)
        step[index] = eps
        step = step.view_as(logits)
        up, _ = _loss_after_sampling(GradMode.UNROLL, logits.detach() + step, graph,
                                     edge_target, weights)
        down, _ = _loss_after_sampling(GradMode.UNROLL, logits.detach() - step, graph,
                                       edge_target, weights)
        numeric.view(-1)[index] = (up - down) / (2 * eps)
    assert torch.allclose(grad, numeric, atol=1e-7)
    reference_loss, _ = _loss_after_sampling(GradMode.REFERENCE, logits, graph, edge_target,
                                             weights)
    (reference_grad,) = torch.autograd.grad(reference_loss, logits)
    assert not torch.allclose(grad, reference_grad, atol=1e-4)


def test_detach_mode_returns_constant_states():
    graph, logits, edge_target, weights = _tiny_case()
    _, sampled = _loss_after_sampling(GradMode.DETACH, logits, graph, edge_target, weights)
    assert not sampled.edge_states.requires_grad
    _, sampled = _loss_after_sampling(GradMode.REFERENCE, logits, graph, edge_target, weights)
    assert sampled.edge_states.requires_grad


def test_build_sampler_reads_the_sampler_keys(cfg):
    cfg.SAMPLER.LR, cfg.SAMPLER.VAR, cfg.SAMPLER.ITERS = 1.0, 0.002, 20
    cfg.SAMPLER.GRAD_CLIP, cfg.SAMPLER.GRAD_MODE = 0.05, "unroll"
    assert build_sampler(cfg) == SGLD(step_size=1.0, noise_std=0.002, grad_clip=0.05,
                                      num_steps=20, grad_mode=GradMode.UNROLL)
    cfg.SAMPLER.GRAD_MODE = "backprop"
    with pytest.raises(ValueError, match="SAMPLER.GRAD_MODE must be one of"):
        build_sampler(cfg)
    cfg.SAMPLER.NAME = "HMC"
    with pytest.raises(KeyError, match="ENERGY_SAMPLERS"):
        build_sampler(cfg)
    with pytest.raises(ValueError, match="GRAD_CLIP > 0"):
        dataclasses.replace(_sgld(), grad_clip=0.0)
