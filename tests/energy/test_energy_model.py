"""GraphEnergyModel: batching, permutation invariance, ablation, config widths, sparsity."""

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, ROI_DIM, all_pairs, make_model, random_graph
from torch.utils._python_dispatch import TorchDispatchMode

from maskrcnn_benchmark.modeling.energy import Aggregation, build_energy_model
from maskrcnn_benchmark.structures.scene_graph import SceneGraph


def _image(graph: SceneGraph, image: int) -> SceneGraph:
    """Image ``image`` of a batch as a graph of its own (slow, obviously correct)."""
    nodes = (graph.node_batch == image).nonzero().flatten()
    edges = (graph.edge_batch == image).nonzero().flatten()
    return SceneGraph.from_images(
        [graph.node_states[nodes]], [graph.edge_states[edges]],
        [graph.edge_index[edges] - nodes.min()], [graph.node_positions[nodes]],
        [graph.image_node_features[nodes]])


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_batched_energies_equal_per_image_energies(aggregation):
    model = make_model(aggregation=aggregation)
    sparse_pairs = torch.tensor([[0, 1], [2, 1]])
    graph = random_graph([4, 3, 2], pairs=[all_pairs(4), sparse_pairs, torch.zeros(0, 2).long()])
    batched = model(graph)
    one_by_one = torch.cat([model(_image(graph, i)) for i in range(3)])
    assert batched.shape == (3,)
    assert torch.allclose(batched, one_by_one, atol=1e-5)
    assert len(set(batched.tolist())) == 3  # the images really differ


def test_energy_is_invariant_to_node_and_edge_order():
    model = make_model()
    graph = random_graph([4, 3])
    node_perm = torch.randperm(graph.num_nodes)
    new_index_of = torch.empty_like(node_perm)
    new_index_of[node_perm] = torch.arange(graph.num_nodes)
    edge_perm = torch.randperm(graph.num_edges)
    permuted = SceneGraph(
        node_states=graph.node_states[node_perm],
        edge_states=graph.edge_states[edge_perm],
        edge_index=new_index_of[graph.edge_index[edge_perm]],
        node_batch=graph.node_batch[node_perm],
        edge_batch=graph.edge_batch[edge_perm],
        num_graphs=2,
        node_positions=graph.node_positions[node_perm],
        image_node_features=graph.image_node_features[node_perm],
    )
    assert torch.allclose(model(graph), model(permuted), atol=1e-5)
    # A relabelling that breaks the graph (edges not remapped) does change the energy.
    broken = permuted.__class__(**{**permuted.__dict__, "edge_index": graph.edge_index})
    assert not torch.allclose(model(graph), model(broken), atol=1e-4)


def test_image_graph_ablation_ignores_image_features():
    graph = random_graph([3, 3])
    changed = graph.__class__(**{**graph.__dict__,
                                 "image_node_features": torch.randn(6, ROI_DIM)})
    without = make_model(use_image_graph=False)
    assert not any(name.startswith(("im_", "obj_embedding")) for name, _ in
                   without.named_parameters())
    assert torch.equal(without(graph), without(changed))
    assert without.image_embedding(graph) is None
    with_image = make_model()
    assert not torch.allclose(with_image(graph), with_image(changed))
    assert torch.equal(with_image(graph), with_image(graph, with_image.image_embedding(graph)))


def test_widths_come_from_the_ebm_keys(energy_cfg):
    energy_cfg.ENERGY_MODEL.MESSAGE_AGGREGATION = "sum"
    model = build_energy_model(energy_cfg, roi_feature_dim=ROI_DIM, num_obj_classes=NUM_OBJ,
                               num_rel_classes=NUM_REL)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes["obj_embedding.weight"] == (7, ROI_DIM)  # OBJ_EMBED_DIM
    assert shapes["obj_label_embedding.weight"] == (8, NUM_OBJ + 128)  # OBJ_LABEL_EMBED_DIM
    assert shapes["rel_label_embedding.weight"] == (10, NUM_REL)  # REL_LABEL_EMBED_DIM
    assert shapes["sg_layer.node2edge_kernel.0.weight"] == (9, 16)  # REL_EMBED_DIM messages
    assert shapes["sg_layer.edge_gate.weight_hh"] == (30, 10)
    assert shapes["sg_pooler.projection.weight"] == (11, 18)  # POOLING_DIM
    assert shapes["energy.0.weight"] == (11, 22)
    assert model.sg_layer.iters == 2 and model.sg_layer.alpha == 0.5
    assert model.im_layer.aggregation is Aggregation.SUM
    assert "pos_embed.1.weight" in shapes  # LayerNorm: no running statistics
    assert not any("running" in name for name in model.state_dict())


def test_bad_names_and_class_counts_give_clear_errors(energy_cfg):
    energy_cfg.ENERGY_MODEL.META_ARCHITECTURE = "GraphEnergyModle"
    with pytest.raises(KeyError, match="Did you mean GraphEnergyModel"):
        build_energy_model(energy_cfg, ROI_DIM, NUM_OBJ, NUM_REL)
    energy_cfg.ENERGY_MODEL.META_ARCHITECTURE = "GraphEnergyModel"
    energy_cfg.ENERGY_MODEL.MESSAGE_AGGREGATION = "max"
    with pytest.raises(ValueError, match="MESSAGE_AGGREGATION"):
        build_energy_model(energy_cfg, ROI_DIM, NUM_OBJ, NUM_REL)
    with pytest.raises(ValueError, match="built for 6 object classes"):
        make_model(num_obj_classes=6)(random_graph([2]))


class _LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in torch.utils._pytree.tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                self.largest = max(self.largest, tensor.numel())
        return out


def test_no_tensor_grows_with_the_square_of_the_number_of_nodes():
    # 4 images x 250 boxes, 3 edges per box: N^2 = 10^6, while the widest per-row tensors are
    # N x (classes + 128 position features) = 133000 and E x (3 GRU gates x 10) = 90000.
    num_images, per_image = 4, 250
    rings = [torch.stack([torch.arange(per_image), (torch.arange(per_image) + k) % per_image], 1)
             for k in (1, 2, 3)]
    graph = random_graph([per_image] * num_images, pairs=[torch.cat(rings)] * num_images)
    node_states = graph.node_states.clone().requires_grad_(True)
    model = make_model()
    with _LargestTensor() as recorder:
        model(graph.with_states(node_states=node_states)).sum().backward()
    num_nodes = graph.num_nodes
    assert recorder.largest < num_nodes * num_nodes / 5
    assert recorder.largest >= graph.num_edges * 10  # the [E, rel_label_embed_dim] states
    with _LargestTensor() as recorder:  # the recorder does see a dense N x N adjacency
        torch.zeros(num_nodes, num_nodes)
    assert recorder.largest == num_nodes * num_nodes
