"""ENERGY_MODEL.NEGATIVE_STATES: "sample" gives G- the same edges and row statistics as G+,
with a straight-through gradient that is the softmax's."""

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, make_head_output, make_model

from maskrcnn_benchmark.modeling.energy import (
    ContrastiveDivergence,
    EnergyObjective,
    GradMode,
    build_predicted_graph,
    straight_through_one_hot,
)
from maskrcnn_benchmark.modeling.energy.diagnostics.graph_stats import (
    GRAPH_FEATURES,
    graph_statistics,
)
from maskrcnn_benchmark.modeling.energy.samplers import SGLD
from maskrcnn_benchmark.structures.scene_graph import SGGTask

NOISE = 1e-4


def _output_with_labels(nodes_per_image):
    output, targets = make_head_output(nodes_per_image)
    output.rel_labels = [target.get_field("relation")[pairs[:, 0], pairs[:, 1]]
                         for target, pairs in zip(targets, output.rel_pair_idxs)]
    return output, targets


def _graphs(states, task=SGGTask.SGCLS, nodes_per_image=(5, 6, 4)):
    output, targets = _output_with_labels(list(nodes_per_image))
    objective = EnergyObjective(
        task=task, sampler=SGLD(step_size=1.0, noise_std=0.0, grad_clip=0.01, num_steps=0,
                                grad_mode=GradMode.REFERENCE),
        energy_loss=ContrastiveDivergence(temperature=1.0), num_obj_classes=NUM_OBJ,
        num_rel_classes=NUM_REL, data_noise_std=NOISE, loss_weight=1.0, l2_weight=1.0,
        task_loss_weight=1.0, positive_graph="matched", negative_states=states)
    return objective.graphs(make_model(), output, targets), output


def test_sampled_negatives_have_the_positive_edges_and_row_statistics():
    graphs, _ = _graphs("sample")
    positive = graph_statistics(graphs.positive)
    negative = graph_statistics(graphs.sampled)
    column = {name: i for i, name in enumerate(GRAPH_FEATURES)}
    assert torch.equal(graphs.positive.edge_index, graphs.sampled.edge_index)
    assert torch.equal(positive[:, column["edge_count"]], negative[:, column["edge_count"]])
    for name in ("row_l1", "row_max"):  # 1 up to the N(0, 1e-4^2) noise on both sides
        assert torch.allclose(positive[:, column[name]], torch.ones(3, dtype=torch.float64),
                              atol=2e-3)
        assert torch.allclose(negative[:, column[name]], positive[:, column[name]], atol=2e-3)
    assert (positive[:, column["row_entropy"]] < 0.01).all()
    assert (negative[:, column["row_entropy"]] < 0.01).all()
    # node states are one-hot rows (+ noise) on both sides as well
    assert torch.allclose(graphs.sampled.node_states.max(1).values, torch.ones(15), atol=1e-3)
    assert torch.allclose(graphs.sampled.node_states.abs().sum(1), torch.ones(15), atol=2e-3)
    # the EBM code's construction is told apart by the same features
    minmax, _ = _graphs("minmax")
    assert (graph_statistics(minmax.sampled)[:, column["row_l1"]] > 1.2).all()


def test_predcls_sample_keeps_gt_label_nodes_and_softmax_gives_probabilities():
    graphs, output = _graphs("sample", task=SGGTask.PREDCLS)
    labels = torch.cat([p.get_field("labels") for p in output.proposals])
    assert torch.equal(graphs.sampled.node_states.argmax(1), labels)
    assert not graphs.sampled.node_states.requires_grad
    soft, output = _graphs("softmax")
    assert torch.allclose(soft.sampled.edge_states,
                          torch.softmax(torch.cat(output.relation_logits), dim=1))
    assert torch.allclose(soft.sampled.node_states,
                          torch.softmax(torch.cat(output.refine_logits), dim=1))
    with pytest.raises(ValueError, match="NEGATIVE_STATES"):
        build_predicted_graph(output, SGGTask.SGCLS, num_obj_classes=NUM_OBJ, noise_std=0.0,
                              with_image_graph=False, states="gumbel")


def test_straight_through_forward_is_one_hot_and_backward_is_the_softmax_jacobian():
    logits = torch.tensor([[0.5, -1.0, 2.0, 0.0]], requires_grad=True)
    weights = torch.tensor([1.0, -2.0, 3.0, 0.5])
    states = straight_through_one_hot(logits)
    assert states.sum().item() == 1.0 and set(states.detach().flatten().tolist()) == {0.0, 1.0}
    (states * weights).sum().backward()
    p = torch.softmax(logits.detach(), dim=1)[0]
    jacobian = torch.diag(p) - torch.outer(p, p)  # d softmax / d logits
    assert torch.allclose(logits.grad[0], jacobian @ weights, atol=1e-6)
    assert torch.allclose(logits.grad[0], p * (weights - (p * weights).sum()), atol=1e-6)


def test_draws_follow_the_softmax_and_are_deterministic_under_a_seed():
    logits = torch.tensor([0.0, 1.0, 2.0, -1.0]).repeat(20000, 1)
    torch.manual_seed(5)
    first = straight_through_one_hot(logits)
    torch.manual_seed(5)
    second = straight_through_one_hot(logits)
    assert torch.equal(first, second)
    frequencies = first.mean(0)
    assert torch.allclose(frequencies, torch.softmax(logits[0], dim=0), atol=0.015)
    assert straight_through_one_hot(torch.zeros(0, 4)).shape == (0, 4)


def test_sampled_states_pass_the_gradient_to_the_relation_and_object_logits():
    graphs, output = _graphs("sample")
    weights = torch.randn(NUM_REL)
    (graphs.sampled.edge_states @ weights).sum().backward()
    assert output.relation_logits[0].grad.abs().sum() > 0
    graphs, output = _graphs("sample")
    graphs.sampled.node_states.sum(0)[1].backward()
    assert output.refine_logits[0].grad.abs().sum() > 0
    # the noise is the positive's N(0, 1e-4^2): rows are one-hot to within a few 1e-4
    assert (graphs.sampled.edge_states - graphs.sampled.edge_states.round()).abs().max() < 1e-3
