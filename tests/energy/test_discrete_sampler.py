"""GibbsWithGradients: one-hot rows, at most ITERS flips, lowers energy, exact MH acceptance."""

import math

import pytest
import torch
import torch.nn.functional as F
from energy_testing import NUM_OBJ, NUM_REL, make_model, random_graph

from maskrcnn_benchmark.modeling.energy import GibbsWithGradients, GradMode, build_sampler
from maskrcnn_benchmark.modeling.energy.message_passing import scatter_sum
from maskrcnn_benchmark.modeling.energy.normalization import minmax_normalize
from maskrcnn_benchmark.structures.scene_graph import SceneGraph


def _gwg(num_steps=5, temperature=1.0, grad_mode=GradMode.REFERENCE):
    return GibbsWithGradients(num_steps=num_steps, temperature=temperature, grad_mode=grad_mode)


def _noisy_one_hot_graph(nodes_per_image, edge_labels=None, noise=1e-4):
    graph = random_graph(nodes_per_image)
    if edge_labels is None:
        edge_labels = torch.randint(0, NUM_REL, (graph.num_edges,))
    edges = F.one_hot(edge_labels, NUM_REL).float()
    nodes = F.one_hot(torch.randint(0, NUM_OBJ, (graph.num_nodes,)), NUM_OBJ).float()
    return graph.with_states(node_states=nodes + noise * torch.randn_like(nodes),
                             edge_states=edges + noise * torch.randn_like(edges))


def _count_label(k):
    """E_b = number of image b's edges whose state is label k (linear in the states)."""
    def energy(graph):
        return scatter_sum(graph.edge_states[:, k], graph.edge_batch, graph.num_graphs)
    return energy


def _labels_and_noise(states):
    labels = states.argmax(1)
    return labels, states - F.one_hot(labels, states.shape[1]).float()


def test_rows_stay_one_hot_plus_the_original_noise_and_at_most_iters_labels_change():
    graph = _noisy_one_hot_graph([4, 5])
    sampler = _gwg(num_steps=3, temperature=50.0)  # nearly every proposal is accepted
    sampled = sampler(make_model(), graph, free_nodes=True)
    changed = torch.zeros(graph.num_graphs, dtype=torch.long)
    for name, batch in (("edge_states", graph.edge_batch), ("node_states", graph.node_batch)):
        old_labels, old_noise = _labels_and_noise(getattr(graph, name))
        new_labels, new_noise = _labels_and_noise(getattr(sampled, name))
        assert torch.allclose(new_noise, old_noise, atol=1e-6)
        changed += torch.bincount(batch[new_labels != old_labels], minlength=graph.num_graphs)
    assert (changed <= 3).all() and changed.sum() > 0


def test_low_temperature_drives_a_label_count_energy_to_zero():
    labels = torch.tensor([1, 1, 0, 2, 1, 3] + [1, 0, 2, 1, 1, 3, 0, 1, 2, 1, 1, 0])
    graph = _noisy_one_hot_graph([3, 4], edge_labels=labels)  # 6 and 12 edges
    energy = _count_label(1)
    assert energy(graph).tolist() == pytest.approx([3, 6], abs=1e-3)
    sampled = _gwg(num_steps=8, temperature=0.05)(energy, graph, free_nodes=False)
    assert energy(sampled) == pytest.approx([0, 0], abs=1e-3)
    # At a high temperature the same number of steps leaves the count far from zero on average.
    hot = [_gwg(num_steps=8, temperature=20.0)(energy, graph, False) for _ in range(10)]
    assert torch.stack([energy(s) for s in hot]).mean() > 2.0


def test_sampler_lowers_a_trained_like_energy_on_average():
    model = make_model().eval()
    graph = _noisy_one_hot_graph([5, 4, 3])
    start = model(graph).detach()
    finals = torch.stack([model(_gwg(num_steps=10, temperature=1e-3)(model, graph, True))
                          .detach() for _ in range(5)])
    assert (finals.mean(0) < start).all()


def _one_edge_images(num_images, num_labels, start_label):
    """``num_images`` images with two nodes and one edge each, all in state ``start_label``."""
    nodes = [torch.eye(2, NUM_OBJ)] * num_images
    edges = [F.one_hot(torch.tensor([start_label]), num_labels).float()] * num_images
    pairs = [torch.tensor([[0, 1]])] * num_images
    positions = [torch.rand(2, 9)] * num_images
    return SceneGraph.from_images(nodes, edges, pairs, positions)


def _quadratic_energy(w, v):
    """E(x) = w.x + 0.5 (v.x)^2 per edge: first-order flip estimates differ from the exact ones."""
    def energy(graph):
        x = graph.edge_states
        per_edge = x @ w + 0.5 * (x @ v) ** 2
        return scatter_sum(per_edge, graph.edge_batch, graph.num_graphs)
    return energy


def _moved_fractions(energy, graph, temperature, num_labels):
    sampled = _gwg(num_steps=1, temperature=temperature)(energy, graph, free_nodes=False)
    return torch.bincount(sampled.edge_states.argmax(1), minlength=num_labels).float() \
        / graph.num_edges


def test_two_state_acceptance_is_the_exact_metropolis_probability():
    # The only flip is 0 -> 1 (and back), so the proposal ratio is 1 and the acceptance is
    # min(1, exp(-(E1 - E0) / T)) with the exact energy change 0.3 + 0.5 * 0.8 = 0.7.
    w, v = torch.tensor([0.0, 0.3]), torch.tensor([0.0, math.sqrt(0.8)])
    graph = _one_edge_images(4000, 2, start_label=0)
    temperature = 0.5
    moved = _moved_fractions(_quadratic_energy(w, v), graph, temperature, 2)[1]
    expected = math.exp(-0.7 / temperature)  # 0.247; first-order (0.3) would give 0.549
    assert abs(float(moved) - expected) < 0.03


def test_three_state_transition_probabilities_follow_the_gwg_proposal_and_mh_rule():
    w, v = torch.tensor([0.0, -0.4, 0.5]), torch.tensor([0.2, 1.0, -0.6])
    temperature = 0.7
    energy_of = [float(w[a] + 0.5 * v[a] ** 2) for a in range(3)]

    def proposal(a):
        """q(b | a) for b != a: softmax of -(first-order change) / (2 T)."""
        grad = [float(w[b] + v[b] * v[a]) for b in range(3)]
        logits = {b: -(grad[b] - grad[a]) / (2 * temperature) for b in range(3) if b != a}
        norm = sum(math.exp(value) for value in logits.values())
        return {b: math.exp(value) / norm for b, value in logits.items()}

    forward = proposal(0)
    expected = {b: forward[b] * min(1.0, math.exp(-(energy_of[b] - energy_of[0]) / temperature)
                                    * proposal(b)[0] / forward[b]) for b in (1, 2)}
    graph = _one_edge_images(6000, 3, start_label=0)
    fractions = _moved_fractions(_quadratic_energy(w, v), graph, temperature, 3)
    for b in (1, 2):
        assert abs(float(fractions[b]) - expected[b]) < 0.03, (b, fractions, expected)


def test_reference_and_descend_pass_the_gradient_to_the_initial_states_unchanged():
    graph = _noisy_one_hot_graph([3, 3])
    initial = graph.edge_states.clone().requires_grad_(True)
    weights = torch.randn_like(initial)
    for mode in (GradMode.REFERENCE, GradMode.DESCEND):
        sampled = _gwg(grad_mode=mode)(make_model(), graph.with_states(edge_states=initial),
                                       free_nodes=False)
        (grad,) = torch.autograd.grad((weights * sampled.edge_states).sum(), initial)
        assert torch.equal(grad, weights)
    detached = _gwg(grad_mode=GradMode.DETACH)(make_model(), graph.with_states(
        edge_states=initial), free_nodes=False)
    assert not detached.edge_states.requires_grad


def test_unroll_is_refused_at_build_time_naming_both_keys(cfg):
    cfg.SAMPLER.NAME, cfg.SAMPLER.GRAD_MODE = "GibbsWithGradients", "unroll"
    with pytest.raises(ValueError, match=r"SAMPLER\.GRAD_MODE 'unroll'.*SAMPLER\.NAME"):
        build_sampler(cfg)
    cfg.SAMPLER.GRAD_MODE, cfg.SAMPLER.PROPOSAL_TEMPERATURE, cfg.SAMPLER.ITERS = "detach", 0.3, 7
    assert build_sampler(cfg) == _gwg(num_steps=7, temperature=0.3, grad_mode=GradMode.DETACH)
    cfg.SAMPLER.PROPOSAL_TEMPERATURE = 0.0
    with pytest.raises(ValueError, match="PROPOSAL_TEMPERATURE > 0"):
        build_sampler(cfg)


def test_continuous_states_are_rejected_with_one_clear_error():
    graph = random_graph([3])
    graph = graph.with_states(edge_states=minmax_normalize(torch.randn(graph.num_edges,
                                                                       NUM_REL)))
    with pytest.raises(ValueError, match="edge_states rows are up to .*NEGATIVE_STATES"):
        _gwg()(make_model(), graph, free_nodes=False)


def test_zero_steps_and_autocast_leave_the_result_exact():
    graph = _noisy_one_hot_graph([3, 2])
    same = _gwg(num_steps=0)(make_model(), graph, free_nodes=True)
    assert torch.equal(same.edge_states, graph.edge_states)
    assert torch.equal(same.node_states, graph.node_states)
    model = make_model()
    torch.manual_seed(1)
    plain = _gwg(num_steps=4)(model, graph, free_nodes=True)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = _gwg(num_steps=4)(model, graph, free_nodes=True)
    assert mixed.edge_states.dtype == torch.float32
    assert torch.equal(plain.edge_states, mixed.edge_states)
    assert torch.equal(plain.node_states, mixed.node_states)


# A training step through the model: a random small detector on the tiny synthetic preset.
@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
    from tests.modeling.test_relation_synthetic import DATASET

    root = tmp_path_factory.mktemp("datasets")
    generate_dataset(str(root / DATASET), "tiny", seed=0, workers=1, num_images=10)
    return root


@pytest.mark.parametrize("task", ["predcls", "sgcls"])
def test_training_step_with_one_hot_negatives(root, monkeypatch, task):
    from maskrcnn_benchmark.data.statistics import get_dataset_statistics
    from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
    from tests.energy.test_energy_training_all_heads import _energy_cfg
    from tests.modeling.test_relation_synthetic import _batch

    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _energy_cfg(root, "MotifPredictor", task, **{
        "SAMPLER.NAME": "GibbsWithGradients", "ENERGY_MODEL.NEGATIVE_STATES": "sample"})
    model = build_detection_model(cfg, get_dataset_statistics(cfg)).train()
    images, targets = _batch(cfg)
    losses = model(images, targets)
    assert all(torch.isfinite(value) for value in losses.values())
    sum(losses.values()).backward()
    grads = [p.grad for p in model.roi_heads.relation.predictor.parameters()
             if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    cfg.ENERGY_MODEL.NEGATIVE_STATES = "minmax"
    # refused when the model is built, before any training step
    with pytest.raises(ValueError, match="NEGATIVE_STATES is 'minmax'; set it to 'sample'"):
        build_detection_model(cfg, get_dataset_statistics(cfg))
