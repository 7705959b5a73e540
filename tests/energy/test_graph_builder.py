"""GT and predicted SceneGraphs from hand-made targets and relation-head outputs."""

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, ROI_DIM, FakeHeadOutput, random_boxes

from maskrcnn_benchmark.modeling.energy import build_gt_graph, build_predicted_graph
from maskrcnn_benchmark.modeling.energy.graph_builder import gt_image_features
from maskrcnn_benchmark.modeling.energy.normalization import denormalize, minmax_normalize
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask, encode_box_info


def _targets():
    first = random_boxes(3)
    first.add_field("labels", torch.tensor([1, 2, 3]))
    relation = torch.zeros(3, 3, dtype=torch.long)
    relation[0, 1], relation[2, 0] = 2, 1
    first.add_field("relation", relation, is_triplet=True)
    second = random_boxes(2)
    second.add_field("labels", torch.tensor([4, 1]))
    relation = torch.zeros(2, 2, dtype=torch.long)
    relation[1, 0] = 3
    second.add_field("relation", relation, is_triplet=True)
    return [first, second]


def _output(targets):
    proposals = []
    for target in targets:
        proposal = BoxList(target.bbox, target.size)
        proposal.add_field("labels", target.get_field("labels"))
        proposals.append(proposal)
    return FakeHeadOutput(
        proposals=proposals,
        rel_pair_idxs=[torch.tensor([[0, 1], [1, 2]]), torch.tensor([[1, 0]])],
        relation_logits=[torch.tensor([[1.0, 3.0, 2.0, 5.0], [2.0, 2.0, 2.0, 2.0]]),
                         torch.tensor([[0.0, -1.0, 1.0, 0.5]])],
        refine_logits=[torch.tensor([[4.0, 0.0, 2.0, 1.0, 3.0]]).repeat(3, 1),
                       torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0]]).repeat(2, 1)],
        roi_features=torch.randn(5, ROI_DIM),
    )


def test_gt_graph_edges_one_hot_states_and_positions():
    targets = _targets()
    graph = build_gt_graph(targets, None, num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL,
                           noise_std=0.0)
    assert graph.edge_index.tolist() == [[0, 1], [2, 0], [4, 3]]
    assert graph.edge_batch.tolist() == [0, 0, 1]
    assert torch.equal(graph.edge_states, torch.eye(NUM_REL)[[2, 1, 3]])
    assert torch.equal(graph.node_states, torch.eye(NUM_OBJ)[[1, 2, 3, 4, 1]])
    assert torch.equal(graph.node_positions, encode_box_info(targets))
    assert graph.image_node_features is None


def test_gt_graph_noise_is_small_gaussian_and_features_are_not_modified_in_place():
    targets = _targets()
    features = torch.randn(5, ROI_DIM)
    before = features.clone()
    graph = build_gt_graph(targets, features, num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL,
                           noise_std=1e-4)
    noise = graph.node_states - torch.eye(NUM_OBJ)[[1, 2, 3, 4, 1]]
    assert 0 < noise.abs().max() < 1e-3
    assert torch.equal(features, before)
    assert not torch.equal(graph.image_node_features, features)
    assert (graph.image_node_features - features).abs().max() < 1e-3


def test_predicted_graph_minmax_rows_including_a_constant_row():
    targets = _targets()
    graph = build_predicted_graph(_output(targets), SGGTask.SGCLS, num_obj_classes=NUM_OBJ,
                                  noise_std=0.0, with_image_graph=True)
    assert graph.edge_index.tolist() == [[0, 1], [1, 2], [4, 3]]
    assert graph.edge_states.tolist() == [[0.0, 0.5, 0.25, 1.0], [0.0, 0.0, 0.0, 0.0],
                                          [0.5, 0.0, 1.0, 0.75]]
    assert graph.node_states[0].tolist() == [1.0, 0.0, 0.5, 0.25, 0.75]
    assert graph.node_states[3].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]


def test_predcls_nodes_come_from_labels_not_logits():
    targets = _targets()
    graph = build_predicted_graph(_output(targets), SGGTask.PREDCLS, num_obj_classes=NUM_OBJ,
                                  noise_std=0.0, with_image_graph=False)
    assert torch.equal(graph.node_states, torch.eye(NUM_OBJ)[[1, 2, 3, 4, 1]])
    assert graph.image_node_features is None


def test_predicted_states_stay_connected_to_the_logits():
    targets = _targets()
    output = _output(targets)
    output.relation_logits = [logits.requires_grad_(True) for logits in output.relation_logits]
    graph = build_predicted_graph(output, SGGTask.SGCLS, num_obj_classes=NUM_OBJ, noise_std=0.0,
                                  with_image_graph=True)
    graph.edge_states.sum().backward()
    assert output.relation_logits[0].grad is not None
    assert torch.isfinite(output.relation_logits[0].grad).all()


def test_minmax_inverse_and_flat_rows_are_finite():
    rows = torch.tensor([[1.0, 3.0, 2.0], [4.0, 4.0, 4.0], [0.0, 1e-8, 0.0]],
                        requires_grad=True)
    normalized = minmax_normalize(rows)
    normalized.sum().backward()
    assert torch.isfinite(rows.grad).all()
    assert normalized[1].tolist() == [0.0, 0.0, 0.0]
    assert torch.allclose(denormalize(normalized, rows), rows)


def test_sgdet_gt_features_and_bad_inputs_give_clear_errors():
    targets = _targets()
    output = _output(targets)
    with pytest.raises(ValueError, match="target_roi_features"):
        gt_image_features(output, SGGTask.SGDET, targets)
    output.target_roi_features = torch.randn(4, ROI_DIM)
    with pytest.raises(ValueError, match="has 4 rows but the targets have 5 boxes"):
        gt_image_features(output, SGGTask.SGDET, targets)
    assert gt_image_features(output, SGGTask.SGCLS, targets) is output.roi_features
    targets[1].get_field("labels")[0] = NUM_OBJ
    with pytest.raises(ValueError, match="check NUM_CLASSES"):
        build_gt_graph(targets, None, num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL,
                       noise_std=0.0)
    output.relation_logits = output.relation_logits[:1]
    with pytest.raises(ValueError, match="one entry per image"):
        build_predicted_graph(output, SGGTask.SGCLS, num_obj_classes=NUM_OBJ, noise_std=0.0,
                              with_image_graph=True)


def test_matched_gt_graph_puts_gt_states_on_the_predicted_structure():
    from maskrcnn_benchmark.modeling.energy.graph_builder import build_matched_gt_graph

    targets = _targets()
    output = _output(targets)
    with pytest.raises(ValueError, match="rel_labels"):
        build_matched_gt_graph(output, num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL,
                               noise_std=0.0, with_image_graph=True)
    output.rel_labels = [torch.tensor([2, 0]), torch.tensor([3])]  # pair (1, 2) is background
    graph = build_matched_gt_graph(output, num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL,
                                   noise_std=0.0, with_image_graph=True)
    predicted = build_predicted_graph(output, SGGTask.SGCLS, num_obj_classes=NUM_OBJ,
                                      noise_std=0.0, with_image_graph=True)
    assert torch.equal(graph.edge_index, predicted.edge_index)  # same edges as E-'s graph
    assert torch.equal(graph.edge_states, torch.eye(NUM_REL)[[2, 0, 3]])
    assert torch.equal(graph.node_states, torch.eye(NUM_OBJ)[[1, 2, 3, 4, 1]])
    assert torch.equal(graph.image_node_features, output.roi_features)
    output.rel_labels = [torch.tensor([2]), torch.tensor([3])]
    with pytest.raises(ValueError, match="2 pairs but 1 rel_labels"):
        build_matched_gt_graph(output, num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL,
                               noise_std=0.0, with_image_graph=False)
