"""Architecture options of the energy model: mean aggregation, outgoing edges, mean pooling,
raw pooling gates, spectral normalisation, and their config errors."""

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, ROI_DIM, make_head_output, make_model, random_graph
from torch import nn
from torch.nn.utils.parametrizations import _SpectralNorm

from maskrcnn_benchmark.modeling.energy import (
    SGLD,
    Aggregation,
    EdgeDirections,
    GradMode,
    Pooling,
    PoolingGate,
    build_energy_model,
    build_energy_objective,
)
from maskrcnn_benchmark.modeling.energy.egnn import EGNNLayer
from maskrcnn_benchmark.modeling.energy.message_passing import (
    aggregate_edges,
    aggregate_neighbour_nodes,
)
from maskrcnn_benchmark.modeling.energy.pooling import EdgeGatedPooling, GatedPooling
from maskrcnn_benchmark.modeling.energy.spectral import spectral_norm_targets
from maskrcnn_benchmark.structures.scene_graph import SceneGraph
from maskrcnn_benchmark.utils.checkpoint import load_model_state

# Toy graph: 0 -> 2, 1 -> 2, 2 -> 0, 0 -> 1; node 3 is isolated.
TOY_EDGES = torch.tensor([[0, 2], [1, 2], [2, 0], [0, 1]])
TOY_NODES = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
TOY_EDGE_STATES = torch.tensor([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0], [2.0, 6.0]])


def test_mean_aggregation_is_the_sum_divided_by_the_degree():
    nodes = aggregate_neighbour_nodes(TOY_NODES, TOY_EDGES, Aggregation.MEAN)
    # node 0 <- {n2}, node 1 <- {n0}, node 2 <- {n0, n1}, node 3 <- nothing
    expected = torch.tensor([[5.0, 6.0], [1.0, 2.0], [2.0, 3.0], [0.0, 0.0]])
    assert torch.equal(nodes, expected)
    in_degree = torch.tensor([1.0, 1.0, 2.0, 1.0])[:, None]  # isolated: zeros either way
    summed = aggregate_neighbour_nodes(TOY_NODES, TOY_EDGES, Aggregation.SUM)
    assert torch.equal(nodes, summed / in_degree)

    incoming = aggregate_edges(TOY_EDGE_STATES, TOY_EDGES, 4, Aggregation.MEAN)
    assert torch.equal(incoming, torch.tensor([[4.0, 4.0], [2.0, 6.0], [0.5, 1.0], [0.0, 0.0]]))
    assert torch.equal(incoming, aggregate_edges(TOY_EDGE_STATES, TOY_EDGES, 4,
                                                 Aggregation.SUM) / in_degree)
    outgoing = aggregate_edges(TOY_EDGE_STATES, TOY_EDGES, 4, Aggregation.MEAN, outgoing=True)
    assert torch.equal(outgoing, torch.tensor([[1.5, 3.0], [0.0, 2.0], [4.0, 4.0], [0.0, 0.0]]))
    # "reference" keeps summing edges (the EBM code)
    assert torch.equal(aggregate_edges(TOY_EDGE_STATES, TOY_EDGES, 4, Aggregation.REFERENCE),
                       torch.tensor([[4.0, 4.0], [2.0, 6.0], [1.0, 2.0], [0.0, 0.0]]))


def _egnn(directions: EdgeDirections, **kwargs) -> EGNNLayer:
    torch.manual_seed(0)
    args = dict(node_dim=3, edge_dim=2, message_dim=4, iters=1, alpha=0.0,
                aggregation=Aggregation.SUM, edge_directions=directions)
    return EGNNLayer(**{**args, **kwargs})


def test_outgoing_edges_reach_the_node_update_only_with_both_directions():
    # Node 0 points to 1 and 2 (2 outgoing, 0 incoming); node 3 has no edge at all.
    edges = torch.tensor([[0, 1], [0, 2]])
    nodes = torch.ones(4, 3)
    edge_states = torch.tensor([[1.0, -1.0], [2.0, 0.5]])
    incoming = _egnn(EdgeDirections.INCOMING)
    both = _egnn(EdgeDirections.BOTH)
    both.load_state_dict(incoming.state_dict(), strict=False)  # the shared kernels
    assert set(both.state_dict()) - set(incoming.state_dict()) == {
        f"edge2node_out_kernel.{k}" for k in ("0.weight", "0.bias", "2.weight", "2.bias")}

    out_in, _ = incoming(nodes, edge_states, edges)
    assert torch.equal(out_in[0], out_in[3])  # blind to what node 0 points to
    out_both, _ = both(nodes, edge_states, edges)
    assert not torch.allclose(out_both[0], out_both[3], atol=1e-4)
    # By hand (alpha = 0): m_0 = K_en(0) + K_en_out(e_01 + e_02), m_3 = K_en(0) + K_en_out(0).
    zero = torch.zeros(1, 2)
    for node, outgoing in ((0, edge_states.sum(0, keepdim=True)), (3, zero)):
        message = both.edge2node_kernel(zero) + both.edge2node_out_kernel(outgoing)
        manual = both.node_gate(message, nodes[node:node + 1])[0]
        torch.testing.assert_close(out_both[node], manual, rtol=0, atol=1e-6)


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_both_directions_layer_matches_a_per_node_loop(aggregation):
    layer = _egnn(EdgeDirections.BOTH, node_dim=2, alpha=0.4, aggregation=aggregation)
    new_nodes, _ = layer(TOY_NODES, TOY_EDGE_STATES, TOY_EDGES)
    node2node = layer.node2node_kernel(aggregate_neighbour_nodes(TOY_NODES, TOY_EDGES,
                                                                 aggregation))
    edges = TOY_EDGES.tolist()
    for node in range(4):
        terms = []
        for kernel, column in ((layer.edge2node_kernel, 1), (layer.edge2node_out_kernel, 0)):
            rows = [TOY_EDGE_STATES[k] for k, pair in enumerate(edges) if pair[column] == node]
            agg = torch.zeros(2) if not rows else (
                torch.stack(rows).mean(0) if aggregation is Aggregation.MEAN
                else torch.stack(rows).sum(0))
            terms.append(kernel(agg[None]))
        message = 0.4 * node2node[node:node + 1] + 0.6 * (terms[0] + terms[1])
        manual = layer.node_gate(message, TOY_NODES[node:node + 1])[0]
        torch.testing.assert_close(new_nodes[node], manual, rtol=0, atol=1e-6)


def _fan_graph(pairs: torch.Tensor) -> SceneGraph:
    """Six identical nodes and identical edges: only the wiring differs between graphs."""
    gen = torch.Generator().manual_seed(3)
    return SceneGraph.from_images(
        [torch.rand(1, NUM_OBJ, generator=gen).expand(6, -1)],
        [torch.rand(1, NUM_REL, generator=gen).expand(len(pairs), -1)], [pairs],
        [torch.rand(1, 9, generator=gen).expand(6, -1)],
        [torch.randn(1, ROI_DIM, generator=gen).expand(6, -1)])


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_both_directions_let_the_energy_count_outgoing_edges(aggregation):
    # Two subjects and four objects, each object with one incoming edge from a subject:
    # holders of 2 + 2 things against holders of 3 + 1 things.
    two_and_two = _fan_graph(torch.tensor([[0, 1], [0, 2], [3, 4], [3, 5]]))
    three_and_one = _fan_graph(torch.tensor([[0, 1], [0, 2], [0, 4], [3, 5]]))
    for directions in EdgeDirections:
        torch.manual_seed(1)
        model = make_model(aggregation=aggregation, edge_directions=directions, iters=3)
        gap = (model(two_and_two) - model(three_and_one)).abs().item()
        # Incoming messages (and "reference"'s mean over the objects a subject points to) see
        # the same multiset of nodes and edges in both graphs; the mean of the outgoing edges
        # of identical states cannot count them either. Summed outgoing edges can.
        counts = directions is EdgeDirections.BOTH and aggregation is not Aggregation.MEAN
        assert (gap > 1e-5) if counts else (gap < 1e-6), (directions, gap)


def _with_disconnected_copy(graph: SceneGraph) -> SceneGraph:
    """Image 0 of ``graph`` plus an identical, disconnected copy of its nodes and edges."""
    n = graph.num_nodes
    return SceneGraph.from_images(
        [graph.node_states.repeat(2, 1)], [graph.edge_states.repeat(2, 1)],
        [torch.cat([graph.edge_index, graph.edge_index + n])], [graph.node_positions.repeat(2, 1)],
        [graph.image_node_features.repeat(2, 1)])


@pytest.mark.parametrize("directions", list(EdgeDirections))
@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_mean_pooling_ignores_a_duplicated_disconnected_copy(aggregation, directions):
    graph = random_graph([4], pairs=[torch.tensor([[0, 1], [1, 2], [2, 0], [0, 3], [3, 1]])])
    doubled = _with_disconnected_copy(graph)
    for pooling in Pooling:
        torch.manual_seed(2)
        model = make_model(aggregation=aggregation, edge_directions=directions, pooling=pooling)
        single, twice = model(graph), model(doubled)
        if pooling is Pooling.MEAN:
            torch.testing.assert_close(twice, single, rtol=0, atol=1e-6)
        else:
            assert (twice - single).abs().item() > 1e-4


def test_mean_pooling_of_empty_images_gives_zeros_not_nan():
    pooler = EdgeGatedPooling(node_dim=3, edge_dim=2, pooling_dim=4, pooling=Pooling.MEAN)
    nodes = torch.randn(2, 3, requires_grad=True)
    # image 0: two nodes, no edge; image 1: nothing at all
    pooled = pooler(nodes, torch.zeros(0, 2), torch.tensor([0, 0]), torch.zeros(0).long(), 2)
    assert torch.isfinite(pooled).all()
    torch.testing.assert_close(pooled[1], pooler.projection.bias, rtol=0, atol=0)
    pooled.sum().backward()
    assert torch.isfinite(nodes.grad).all()
    graph = random_graph([3, 0], pairs=[torch.zeros(0, 2).long(), torch.zeros(0, 2).long()])
    energies = make_model(pooling="mean")(graph)
    assert energies.shape == (2,) and torch.isfinite(energies).all()


@pytest.mark.parametrize("pooling", list(Pooling))
def test_raw_gate_equals_the_hand_computed_readout(pooling):
    pooler = GatedPooling(node_dim=2, pooling_dim=2, pooling=pooling, gate=PoolingGate.RAW)
    sigmoid = GatedPooling(node_dim=2, pooling_dim=2, pooling=pooling)
    with torch.no_grad():
        for module in (pooler, sigmoid):
            module.node_gate.weight.copy_(torch.tensor([[1.0, -1.0]]))
            module.node_gate.bias.fill_(0.5)
            module.projection.weight.copy_(torch.eye(2))
            module.projection.bias.zero_()
    states = torch.tensor([[1.0, 2.0], [3.0, 1.0], [2.0, 2.0]])
    batch = torch.tensor([0, 0, 1])
    # scores w.x + b: -0.5, 2.5, 0.5 -> gated rows [-0.5, -1], [7.5, 2.5], [1, 1]
    total = torch.tensor([[7.0, 1.5], [1.0, 1.0]])
    expected = total / torch.tensor([[2.0], [1.0]]) if pooling is Pooling.MEAN else total
    torch.testing.assert_close(pooler(states, batch, 2), expected, rtol=0, atol=1e-6)
    gates = torch.sigmoid(torch.tensor([-0.5, 2.5, 0.5]))[:, None]
    rows = gates * states
    sig_total = torch.stack([rows[:2].sum(0), rows[2]])
    sig_expected = sig_total / torch.tensor([[2.0], [1.0]]) if pooling is Pooling.MEAN \
        else sig_total
    torch.testing.assert_close(sigmoid(states, batch, 2), sig_expected, rtol=0, atol=1e-6)


def _count_weights(model: nn.Module) -> int:
    return sum(1 if isinstance(m, nn.Linear) else 2 for m in model.modules()
               if isinstance(m, (nn.Linear, nn.GRUCell)))


def test_spectral_norm_gives_unit_norm_weights_computed_once_per_forward():
    torch.manual_seed(4)
    plain = make_model(edge_directions="both")
    model = make_model(edge_directions="both", spectral_norm=True).train()
    targets = spectral_norm_targets(model)
    assert len(targets) == _count_weights(plain) == 28  # 21 Linear + 3 GRUCell x 2
    state = model.state_dict()
    for path, _, name in targets:  # W_orig and the power-iteration vectors, no plain weight
        assert f"{path}.{name}" not in state
        assert {f"{path}.parametrizations.{name}.{k}" for k in ("original", "0._u", "0._v")} \
            <= set(state)
    calls = []
    norms = [m for m in model.modules() if isinstance(m, _SpectralNorm)]
    for norm in norms:
        norm.register_forward_hook(lambda module, args, out: calls.append(module))
    graph = random_graph([4, 3])

    def sigmas():
        return torch.stack([torch.linalg.matrix_norm(getattr(module, name).detach(), ord=2)
                            for _, module, name in targets])

    # u^T W v never exceeds the top singular value: never under-normalised, converging from
    # above (15 iterations at registration, then one per train-mode forward)
    start = sigmas()
    assert (start > 1 - 1e-5).all() and start.max() > 1.01
    for _ in range(30):
        calls.clear()
        model(graph)
        # once per weight although ITERS = 2 uses every GRU weight twice
        assert len(calls) == len(norms) == 28
    torch.testing.assert_close(sigmas(), torch.ones(28), rtol=0, atol=1e-2)
    assert (sigmas() - 1).max() < (start - 1).max() / 3
    assert max(torch.linalg.matrix_norm(getattr(m, n).detach(), ord=2).item()
               for _, m, n in spectral_norm_targets(plain)) > 1.2  # it is not free
    # eval mode: no power iteration, the buffers stay put
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items() if k.endswith(("_u", "_v"))}
    model(graph)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_spectral_norm_state_dict_round_trip_restores_the_energies(tmp_path):
    torch.manual_seed(5)
    model = make_model(spectral_norm=True, pooling_gate="raw").train()
    graph = random_graph([4, 3])
    with torch.no_grad():
        for param in model.parameters():  # move away from init, so the buffers must be saved
            param.add_(0.3 * torch.randn_like(param))
    model(graph)
    model(graph)
    torch.save(model.state_dict(), tmp_path / "energy.pth")
    torch.manual_seed(6)
    restored = make_model(spectral_norm=True, pooling_gate="raw")
    report = load_model_state(restored, torch.load(tmp_path / "energy.pth"), strict=True)
    assert any(".parametrizations.weight.0._u" in k for k in report.loaded)
    for mode in (False, True):  # eval: stored u, v; train: one more power iteration each
        model.train(mode)
        restored.train(mode)
        assert torch.equal(model(graph), restored(graph))


@pytest.mark.parametrize("grad_mode", [GradMode.REFERENCE, GradMode.UNROLL])
def test_sgld_runs_on_a_spectrally_normalised_model(grad_mode):
    torch.manual_seed(7)
    model = make_model(spectral_norm=True).train()
    graph = random_graph([4, 3])
    logits = torch.randn_like(graph.edge_states, requires_grad=True)
    start = graph.with_states(edge_states=torch.softmax(logits, -1))
    u_before = model.sg_layer.node_gate.parametrizations.weight_ih[0]._u.clone()
    sampler = SGLD(step_size=1.0, noise_std=0.0, grad_clip=0.01, num_steps=3,
                   grad_mode=grad_mode)
    sampled = sampler(lambda g: model(g), start, free_nodes=False)
    moved = (sampled.edge_states - start.edge_states).abs().max().item()
    assert torch.isfinite(sampled.edge_states).all() and moved > 1e-3
    assert all(p.grad is None for p in model.parameters())  # the sampler writes no .grad
    assert not torch.equal(u_before, model.sg_layer.node_gate.parametrizations.weight_ih[0]._u)
    model(sampled).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().max() > 0
    originals = [p for n, p in model.named_parameters() if n.endswith(".original")]
    assert originals and all(p.grad is not None and torch.isfinite(p.grad).all()
                             for p in originals)


def test_config_keys_reach_the_model(energy_cfg):
    model_cfg = energy_cfg.ENERGY_MODEL
    model_cfg.MESSAGE_AGGREGATION, model_cfg.EDGE_DIRECTIONS = "mean", "both"
    model_cfg.POOLING, model_cfg.POOLING_GATE, model_cfg.SPECTRAL_NORM = "mean", "raw", True
    model = build_energy_model(energy_cfg, ROI_DIM, NUM_OBJ, NUM_REL)
    assert model.sg_layer.aggregation is model.im_layer.aggregation is Aggregation.MEAN
    assert model.sg_layer.edge_directions is EdgeDirections.BOTH
    for pooler in (model.sg_pooler, model.im_pooler):
        assert pooler.pooling is Pooling.MEAN and pooler.gate_kind is PoolingGate.RAW
    assert len(spectral_norm_targets(model)) == 28
    assert sum(isinstance(m, _SpectralNorm) for m in model.modules()) == 28


@pytest.mark.parametrize("key, value, allowed", [
    ("MESSAGE_AGGREGATION", "max", "['reference', 'sum', 'mean']"),
    ("EDGE_DIRECTIONS", "outgoing", "['incoming', 'both']"),
    ("POOLING", "max", "['sum', 'mean']"),
    ("POOLING_GATE", "softmax", "['sigmoid', 'raw']"),
    ("SPECTRAL_NORM", "yes", "True or False"),
])
def test_bad_option_values_name_the_key_and_the_choices(energy_cfg, key, value, allowed):
    setattr(energy_cfg.ENERGY_MODEL, key, value)
    with pytest.raises(ValueError) as error:
        build_energy_model(energy_cfg, ROI_DIM, NUM_OBJ, NUM_REL)
    assert f"ENERGY_MODEL.{key}" in str(error.value) and allowed in str(error.value)
    assert repr(value) in str(error.value)


def test_a_training_step_with_every_option_reaches_every_parameter(energy_cfg):
    options = energy_cfg.ENERGY_MODEL
    options.MESSAGE_AGGREGATION, options.EDGE_DIRECTIONS = "sum", "both"
    options.POOLING, options.POOLING_GATE, options.SPECTRAL_NORM = "mean", "raw", True
    torch.manual_seed(8)
    model = build_energy_model(energy_cfg, ROI_DIM, NUM_OBJ, NUM_REL).train()
    output, targets = make_head_output([3, 4])
    losses = build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL)(model, output, targets, {})
    (losses["loss_energy"] + losses["loss_energy_l2"]).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert output.relation_logits[0].grad.abs().sum() > 0
