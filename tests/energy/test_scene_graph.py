"""SceneGraph batching, validation and the 9-d box encoding."""

import pytest
import torch

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SceneGraph, SGGTask, encode_box_info


def test_encode_box_info_matches_hand_computed_values():
    # Box x1=0..x2=9, y1=0..y2=19 in a 20 x 40 image: w = 10, h = 20 (+1 pixel convention).
    boxes = BoxList(torch.tensor([[0.0, 0.0, 9.0, 19.0], [10.0, 20.0, 19.0, 39.0]]), (20, 40))
    info = encode_box_info([boxes])
    expected_first = [0.5, 0.5, 0.25, 0.25, 0.0, 0.0, 0.45, 0.475, 0.25]
    expected_second = [0.5, 0.5, 0.75, 0.75, 0.5, 0.5, 0.95, 0.975, 0.25]
    assert torch.allclose(info, torch.tensor([expected_first, expected_second]))


def test_from_images_offsets_edges_and_batch_indices():
    graph = SceneGraph.from_images(
        node_states=[torch.rand(2, 3), torch.rand(3, 3)],
        edge_states=[torch.rand(1, 4), torch.rand(2, 4)],
        pair_idxs=[torch.tensor([[0, 1]]), torch.tensor([[2, 0], [1, 2]])],
        node_positions=[torch.rand(2, 9), torch.rand(3, 9)],
    )
    assert graph.edge_index.tolist() == [[0, 1], [4, 2], [3, 4]]
    assert graph.node_batch.tolist() == [0, 0, 1, 1, 1]
    assert graph.edge_batch.tolist() == [0, 1, 1]
    assert graph.num_graphs == 2 and graph.num_nodes == 5 and graph.num_edges == 3
    assert graph.nodes_per_graph() == [2, 3] and graph.edges_per_graph() == [1, 2]


def test_from_images_rejects_pairs_outside_the_image():
    with pytest.raises(ValueError, match="image 1 has pair indices outside"):
        SceneGraph.from_images(
            node_states=[torch.rand(2, 3), torch.rand(2, 3)],
            edge_states=[torch.rand(1, 4), torch.rand(1, 4)],
            pair_idxs=[torch.tensor([[0, 1]]), torch.tensor([[0, 2]])],
            node_positions=[torch.rand(2, 9), torch.rand(2, 9)],
        )


def test_shape_validation_names_the_field():
    good = dict(node_states=torch.rand(3, 5), edge_states=torch.rand(2, 4),
                edge_index=torch.tensor([[0, 1], [1, 2]]), node_batch=torch.zeros(3).long(),
                edge_batch=torch.zeros(2).long(), num_graphs=1, node_positions=torch.rand(3, 9))
    SceneGraph(**good)
    with pytest.raises(ValueError, match="edge_index must be"):
        SceneGraph(**{**good, "edge_index": torch.tensor([[0, 1]])})
    with pytest.raises(ValueError, match="node_positions must be"):
        SceneGraph(**{**good, "node_positions": torch.rand(3, 4)})
    with pytest.raises(ValueError, match="node_batch must be int64"):
        SceneGraph(**{**good, "node_batch": torch.zeros(3)})
    with pytest.raises(ValueError, match="image_node_features must be"):
        SceneGraph(**{**good, "image_node_features": torch.rand(2, 6)})


def test_with_states_and_detach_return_new_graphs():
    nodes = torch.rand(2, 3, requires_grad=True)
    graph = SceneGraph.from_images([nodes * 1], [torch.rand(1, 4)], [torch.tensor([[0, 1]])],
                                   [torch.rand(2, 9)])
    new_edges = torch.zeros(1, 4)
    moved = graph.with_states(edge_states=new_edges)
    assert moved is not graph and moved.edge_states is new_edges
    assert moved.node_states is graph.node_states
    assert not torch.equal(graph.edge_states, new_edges)
    detached = graph.detach()
    assert graph.node_states.requires_grad and not detached.node_states.requires_grad
    with pytest.raises(ValueError, match=r"edge_index must be \[E=2, 2\]"):
        graph.with_states(edge_states=torch.zeros(2, 4))


def test_task_from_flags_and_free_nodes():
    assert SGGTask.from_flags(True, True) is SGGTask.PREDCLS
    assert SGGTask.from_flags(True, False) is SGGTask.SGCLS
    assert SGGTask.from_flags(False, True) is SGGTask.SGDET
    assert [t.free_nodes for t in SGGTask] == [False, True, True]
