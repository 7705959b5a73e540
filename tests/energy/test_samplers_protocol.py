"""The EnergySampler contract: every ENERGY_SAMPLERS entry conforms to it and behaves as it says."""

import dataclasses
import inspect

import pytest
import torch
import torch.nn.functional as F
from energy_testing import NUM_OBJ, NUM_REL, make_model, random_graph

from maskrcnn_benchmark.modeling.energy import EnergySampler, GradMode, build_sampler
from maskrcnn_benchmark.modeling.energy import samplers as samplers_module
from maskrcnn_benchmark.modeling.energy.sampler_protocol import GradMode as ProtocolGradMode
from maskrcnn_benchmark.modeling.registry import ENERGY_SAMPLERS
from maskrcnn_benchmark.structures.scene_graph import SceneGraph

NAMES = ENERGY_SAMPLERS.keys()


def _one_hot_graph(nodes_per_image):
    """All-pairs graph with noisy one-hot states (valid input for every sampler)."""
    graph = random_graph(nodes_per_image)
    edges = F.one_hot(torch.randint(0, NUM_REL, (graph.num_edges,)), NUM_REL).float()
    nodes = F.one_hot(torch.randint(0, NUM_OBJ, (graph.num_nodes,)), NUM_OBJ).float()
    return graph.with_states(node_states=nodes + 1e-4 * torch.randn_like(nodes),
                             edge_states=edges + 1e-4 * torch.randn_like(edges))


def _sampler(cfg, name, **keys):
    cfg.SAMPLER.NAME, cfg.SAMPLER.ITERS = name, 4
    for key, value in keys.items():
        setattr(cfg.SAMPLER, key, value)
    return build_sampler(cfg)


def test_registry_holds_the_continuous_and_the_discrete_sampler():
    assert {"SGLD", "GibbsWithGradients"} <= set(NAMES)
    assert samplers_module.GradMode is ProtocolGradMode  # one enum, importable from both


@pytest.mark.parametrize("name", NAMES)
def test_every_registry_entry_conforms_to_the_protocol(cfg, name):
    cls = ENERGY_SAMPLERS.get(name)
    assert isinstance(inspect.getattr_static(cls, "from_config"), classmethod)
    sampler = _sampler(cfg, name)
    assert isinstance(sampler, EnergySampler) and type(sampler) is cls
    assert isinstance(sampler.grad_mode, GradMode)
    assert list(inspect.signature(sampler.__call__).parameters) == [
        "energy_fn", "graph", "free_nodes"]
    # A variant is derived with dataclasses.replace; the sampler itself is immutable.
    detached = dataclasses.replace(sampler, grad_mode=GradMode.DETACH)
    assert detached.grad_mode is GradMode.DETACH and sampler.grad_mode is GradMode.REFERENCE
    with pytest.raises(dataclasses.FrozenInstanceError):
        sampler.grad_mode = GradMode.DETACH


def test_an_object_without_the_contract_is_not_a_sampler():
    class NoConfig:
        grad_mode = GradMode.REFERENCE

        def __call__(self, energy_fn, graph, free_nodes):
            return graph

    assert not isinstance(NoConfig(), EnergySampler)


@pytest.mark.parametrize("name", NAMES)
def test_every_sampler_is_pure_deterministic_and_moves_only_free_states(cfg, name):
    sampler = _sampler(cfg, name)
    model = make_model().eval()
    graph = _one_hot_graph([3, 4])
    before = {field: getattr(graph, field).clone() for field in ("node_states", "edge_states")}

    torch.manual_seed(5)
    predcls = sampler(model, graph, free_nodes=False)
    assert isinstance(predcls, SceneGraph)
    assert predcls.node_states is graph.node_states  # PredCls: nodes untouched, same object
    assert predcls.edge_index is graph.edge_index
    assert predcls.image_node_features is graph.image_node_features
    assert not torch.equal(predcls.edge_states, graph.edge_states)
    torch.manual_seed(5)
    again = sampler(model, graph, free_nodes=False)
    assert torch.equal(again.edge_states, predcls.edge_states)

    sgcls = sampler(model, graph, free_nodes=True)
    assert sgcls.node_states.shape == graph.node_states.shape
    assert not torch.equal(sgcls.node_states, graph.node_states)
    for field, value in before.items():
        assert torch.equal(getattr(graph, field), value)  # inputs never written
    assert all(p.grad is None for p in model.parameters()) and not model.training


@pytest.mark.parametrize("name", NAMES)
def test_detach_mode_returns_constants_and_reference_mode_keeps_the_graph(cfg, name):
    graph = _one_hot_graph([3])
    logits = graph.edge_states.clone().requires_grad_(True)
    start = graph.with_states(edge_states=logits)
    model = make_model()
    reference = _sampler(cfg, name)(model, start, free_nodes=False)
    assert reference.edge_states.requires_grad
    (grad,) = torch.autograd.grad(reference.edge_states.sum(), logits)
    assert torch.isfinite(grad).all()
    detached = _sampler(cfg, name, GRAD_MODE="detach")(model, start, free_nodes=False)
    assert not detached.edge_states.requires_grad
