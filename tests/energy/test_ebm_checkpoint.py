"""EBM-code checkpoints: key mapping onto GraphEnergyModel, 1x1-conv round trip, file loading."""

import json
import logging
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from maskrcnn_benchmark.modeling.energy import Aggregation, GraphEnergyModel
from maskrcnn_benchmark.modeling.energy.ebm_checkpoint import (
    BATCHNORM_EPS,
    convert_ebm_energy_state,
)
from maskrcnn_benchmark.structures.scene_graph import SceneGraph
from maskrcnn_benchmark.utils.checkpoint import Checkpointer, load_checkpoint_file

# Keys and shapes of the EBM code's GraphEnergyModel (regenerate with ebm_data/make_ebm_keys.py).
EBM = json.loads((Path(__file__).parent / "ebm_data" / "ebm_energy_keys.json").read_text())
DIMS = EBM["dims"]


def ebm_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict with exactly the EBM code's keys and shapes (float64)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in EBM["energy_model"].items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1234)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen, dtype=torch.float64) * 0.5
    return state


def our_model(**options) -> GraphEnergyModel:
    """This package's energy model at the EBM widths (label widths = EBM embed widths)."""
    return GraphEnergyModel(**options,
        num_obj_classes=DIMS["num_obj_classes"], num_rel_classes=DIMS["num_rel_classes"],
        roi_feature_dim=DIMS["in_channels"], obj_embed_dim=DIMS["obj_embed_dim"],
        rel_embed_dim=DIMS["rel_embed_dim"], obj_label_embed_dim=DIMS["obj_embed_dim"],
        rel_label_embed_dim=DIMS["rel_embed_dim"], pooling_dim=DIMS["pooling_dim"], iters=3,
        alpha=0.5, aggregation=Aggregation.REFERENCE, use_image_graph=True).double()


def test_every_ebm_key_is_accounted_for_and_the_result_loads_strictly():
    state = ebm_state()
    mapped, report = convert_ebm_energy_state(state)
    model = our_model()
    model.load_state_dict(mapped, strict=True)  # every key of ours, nothing else, same shapes
    assert set(mapped) == set(model.state_dict())
    seen = (report.copied + [a for a, _ in report.renamed] + report.reshaped + report.folded
            + report.dropped)
    assert sorted(seen) == sorted(state)
    assert sorted(report.reshaped) == ["sg_layer.node2edge_kernel.0.weight",
                                       "sg_layer.node2edge_kernel.2.weight"]
    assert sorted(report.dropped) == sorted(k for k in state if k.startswith(
        ("rel_embeding.", "sg_pooler.htheta", "im_pooler.htheta")))
    renamed = dict(report.renamed)
    assert renamed["obj_emdedding.weight"] == "obj_embedding.weight"
    assert renamed["sg_pooler.hgate_edge.0.weight"] == "sg_pooler.edge_gate.weight"
    assert renamed["im_pooler.poolingLayer.0.bias"] == "im_pooler.projection.bias"
    assert torch.equal(model.sg_pooler.projection.weight, state["sg_pooler.poolingLayer.0.weight"])
    assert torch.equal(model.energy[2].weight, state["energy.2.weight"])
    assert torch.equal(model.sg_layer.edge_gate.weight_hh, state["sg_layer.edge_gate.weight_hh"])


def test_mapped_1x1_conv_kernel_equals_the_conv_on_a_dense_grid():
    state = ebm_state(1)
    mapped, _ = convert_ebm_energy_state(state)
    for name in ("sg_layer.node2edge_kernel.0", "sg_layer.node2edge_kernel.2"):
        kernel, bias = state[name + ".weight"], state[name + ".bias"]
        conv = nn.Conv2d(kernel.shape[1], kernel.shape[0], kernel_size=1).double()
        conv.load_state_dict({"weight": kernel, "bias": bias})
        grid = torch.randn(1, kernel.shape[1], 5, 4, dtype=torch.float64)
        expected = conv(grid)[0].permute(1, 2, 0)  # [5, 4, out]
        linear = F.linear(grid[0].permute(1, 2, 0), mapped[name + ".weight"],
                          mapped[name + ".bias"])
        torch.testing.assert_close(linear, expected, rtol=0, atol=1e-12)


def _dense_ebm_egnn(state, nodes, edge_index, edge_states, iters=3, alpha=0.5):
    """The EBM code's EGNN on a dense N x N grid, written from its definition (EBM keys)."""
    def lin(x, name):
        return F.linear(x, state[name + ".weight"], state[name + ".bias"])

    def kernel(x, name):
        return F.relu(lin(F.relu(lin(x, name + ".0")), name + ".2"))

    def gru(x, h, name, bias=True):
        cell = nn.GRUCell(x.shape[-1], h.shape[-1], bias=bias).double()
        cell.load_state_dict({k.split(".")[-1]: v for k, v in state.items()
                              if k.startswith(name + ".")})
        return cell(x, h)

    n = nodes.shape[0]
    adj = torch.zeros(n, n, dtype=torch.float64)
    adj[edge_index[:, 0], edge_index[:, 1]] = 1.0
    edges = torch.zeros(n, n, edge_states.shape[1], dtype=torch.float64)
    edges[edge_index[:, 0], edge_index[:, 1]] = edge_states
    for _ in range(iters):
        n2n = kernel(adj @ nodes / (adj.sum(1, keepdim=True) + 1e-6), "sg_layer.node2node_kernel")
        e2n = kernel((adj[:, :, None] * edges).sum(0), "sg_layer.edge2node_kernel")
        pairs = torch.cat([nodes[:, None].expand(n, n, -1), nodes[None].expand(n, n, -1)], -1)
        grid = (pairs * adj[:, :, None]).permute(2, 0, 1)[None]  # [1, 2d, N(subject), N(object)]
        for layer in ("0", "2"):
            grid = F.relu(F.conv2d(grid, state[f"sg_layer.node2edge_kernel.{layer}.weight"],
                                   state[f"sg_layer.node2edge_kernel.{layer}.bias"]))
        n2e = grid[0].permute(1, 2, 0).reshape(n * n, -1)
        new_nodes = gru(alpha * n2n + (1 - alpha) * e2n, nodes, "sg_layer.node_gate")
        edges = gru(n2e, edges.reshape(n * n, -1), "sg_layer.edge_gate", bias=False).view(n, n, -1)
        nodes = new_nodes
    return nodes, edges[edge_index[:, 0], edge_index[:, 1]]


def test_mapped_egnn_reproduces_the_dense_ebm_computation():
    """Round trip through the whole EGNN: the Conv2d kernels on the N x N grid and GRUs."""
    state = ebm_state(2)
    model = our_model()
    model.load_state_dict(convert_ebm_energy_state(state)[0], strict=True)
    gen = torch.Generator().manual_seed(3)
    nodes = torch.randn(6, DIMS["obj_embed_dim"], generator=gen, dtype=torch.float64)
    edge_index = torch.tensor([[0, 1], [1, 0], [0, 2], [3, 2], [4, 5], [2, 4], [5, 0]])
    edge_states = torch.randn(7, DIMS["rel_embed_dim"], generator=gen, dtype=torch.float64)
    ref_nodes, ref_edges = _dense_ebm_egnn(state, nodes, edge_index, edge_states)
    our_nodes, our_edges = model.sg_layer(nodes, edge_states, edge_index)
    assert ref_nodes.abs().max() > 0.1 and ref_edges.abs().max() > 0.1
    # EBM divides by (degree + 1e-6), this package by max(degree, 1): equal to ~1e-6.
    torch.testing.assert_close(our_nodes, ref_nodes, rtol=0, atol=1e-5)
    torch.testing.assert_close(our_edges, ref_edges, rtol=0, atol=1e-5)


def _dense_ebm_energy(state, graph, extra_layernorm=True):
    """The EBM code's whole energy from its keys: dense EGNN / GNN, raw-gated sum pooling.

    ``extra_layernorm`` inserts this package's one remaining difference, the LayerNorm after
    the (eval-mode) BatchNorm of the position embedding.
    """
    def lin(x, name):
        return F.linear(x, state[name + ".weight"], state[name + ".bias"])

    def gated(x, batch, gate):  # EBM pooling: raw linear score times the state, summed
        return torch.zeros(graph.num_graphs, x.shape[1], dtype=x.dtype).index_add(
            0, batch, lin(x, gate) * x)

    pos = F.batch_norm(lin(graph.node_positions, "pos_embed.0"), state["pos_embed.1.running_mean"],
                       state["pos_embed.1.running_var"], state["pos_embed.1.weight"],
                       state["pos_embed.1.bias"], training=False, eps=BATCHNORM_EPS)
    if extra_layernorm:
        pos = F.layer_norm(pos, (pos.shape[-1],))
    pos = F.relu(lin(pos, "pos_embed.2"))
    nodes = lin(torch.cat([graph.node_states, pos], -1), "obj_label_embedding")
    edges = lin(graph.edge_states, "rel_label_embedding")
    nodes, edges = _dense_ebm_egnn(state, nodes, graph.edge_index, edges)
    n = graph.num_nodes
    adj = torch.zeros(n, n, dtype=torch.float64)
    adj[graph.edge_index[:, 0], graph.edge_index[:, 1]] = 1.0
    image = lin(graph.image_node_features, "obj_emdedding")
    cell = nn.GRUCell(image.shape[1], image.shape[1]).double()
    cell.load_state_dict({k.split(".")[-1]: v for k, v in state.items()
                          if k.startswith("im_layer.node_gate.")})
    for _ in range(3):
        message = adj @ image / (adj.sum(1, keepdim=True) + 1e-6)
        message = F.relu(lin(F.relu(lin(message, "im_layer.node_kernel.0")),
                             "im_layer.node_kernel.2"))
        image = cell(message, image)
    im_pooled = lin(gated(image, graph.node_batch, "im_pooler.hgate_node.0"),
                    "im_pooler.poolingLayer.0")
    sg_pooled = lin(torch.cat([gated(nodes, graph.node_batch, "sg_pooler.hgate_node.0"),
                               gated(edges, graph.edge_batch, "sg_pooler.hgate_edge.0")], -1),
                    "sg_pooler.poolingLayer.0")
    hidden = F.relu(lin(torch.cat([im_pooled, sg_pooled], -1), "energy.0"))
    return lin(hidden, "energy.2").squeeze(-1)


def test_mapped_model_with_raw_gates_is_the_ebm_energy_up_to_the_position_layernorm():
    state = ebm_state(7)
    gen = torch.Generator().manual_seed(8)
    sizes, pairs = [4, 3], [torch.tensor([[0, 1], [1, 0], [0, 2], [3, 2]]),
                            torch.tensor([[0, 1], [2, 1]])]

    def rand(*shape):
        return torch.rand(*shape, generator=gen, dtype=torch.float64)

    graph = SceneGraph.from_images(
        [rand(k, DIMS["num_obj_classes"]) for k in sizes],
        [rand(len(p), DIMS["num_rel_classes"]) for p in pairs], pairs,
        [rand(k, 9) for k in sizes], [rand(k, DIMS["in_channels"]) - 0.5 for k in sizes])
    raw, sigmoid = our_model(pooling_gate="raw"), our_model()
    for model in (raw, sigmoid):
        model.load_state_dict(convert_ebm_energy_state(state)[0], strict=True)
    expected = _dense_ebm_energy(state, graph)
    assert expected.abs().min() > 1.0
    # EBM divides neighbour sums by (degree + 1e-6), this package by max(degree, 1).
    torch.testing.assert_close(raw(graph), expected, rtol=1e-5, atol=0)
    assert ((sigmoid(graph) - expected) / expected).abs().min() > 1e-2  # default gates differ
    # the LayerNorm is the one difference left: without it the EBM energy is another number
    without = _dense_ebm_energy(state, graph, extra_layernorm=False)
    assert ((without - expected) / expected).abs().min() > 1e-3


def test_batchnorm_is_folded_into_the_position_linear():
    state = ebm_state(4)
    model = our_model()
    model.load_state_dict(convert_ebm_energy_state(state)[0], strict=True)
    boxes = torch.rand(9, 9, dtype=torch.float64)
    pre = F.linear(boxes, state["pos_embed.0.weight"], state["pos_embed.0.bias"])
    expected = F.batch_norm(pre, state["pos_embed.1.running_mean"],
                            state["pos_embed.1.running_var"], state["pos_embed.1.weight"],
                            state["pos_embed.1.bias"], training=False, eps=BATCHNORM_EPS)
    torch.testing.assert_close(model.pos_embed[0](boxes), expected, rtol=0, atol=1e-12)
    assert torch.equal(model.pos_embed[1].weight, torch.ones(32, dtype=torch.float64))
    assert torch.equal(model.pos_embed[1].bias, torch.zeros(32, dtype=torch.float64))


def test_a_non_1x1_kernel_is_refused():
    state = ebm_state()
    state["sg_layer.node2edge_kernel.0.weight"] = torch.zeros(6, 16, 3, 3)
    with pytest.raises(ValueError, match=r"node2edge_kernel.0.weight has shape \(6, 16, 3, 3\)"):
        convert_ebm_energy_state(state)


class Detector(nn.Module):
    """The two parts of an EBM checkpoint: an SGB-named model and the energy model."""

    def __init__(self) -> None:
        super().__init__()
        self.roi_heads = nn.Module()
        self.roi_heads.relation = nn.Module()
        self.roi_heads.relation.predictor = nn.Linear(3, 2).double()
        self.energy_model = our_model()


def test_ebm_checkpoint_file_loads_strictly_through_the_checkpointer(tmp_path, caplog):
    base = Detector()
    base_state = {f"module.{k}": v + 1.0 for k, v in base.state_dict().items()
                  if k.startswith("roi_heads.")}
    energy = {f"module.{k}": v for k, v in ebm_state(5).items()}
    path = tmp_path / "ebm_model_final.pth"
    torch.save({"base_model": base_state, "energy_model": energy,
                "energy_optimizer": {"state": {}, "param_groups": []}, "iteration": 7}, path)

    data = load_checkpoint_file(str(path))
    assert set(data) == {"model", "iteration"} and data["iteration"] == 7

    fresh = Detector()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="maskrcnn_benchmark.modeling.energy.ebm_checkpoint"):
        extra = Checkpointer(fresh).load(str(path), use_latest=False, strict=True)
    assert extra == {"iteration": 7}
    assert torch.equal(fresh.roi_heads.relation.predictor.weight,
                       base_state["module.roi_heads.relation.predictor.weight"])
    kernel = energy["module.sg_layer.node2edge_kernel.0.weight"]
    assert torch.equal(fresh.energy_model.sg_layer.node2edge_kernel[0].weight, kernel[:, :, 0, 0])
    messages = [r.getMessage() for r in caplog.records if "EBM-code checkpoint" in r.getMessage()]
    assert len(messages) == 1
    assert "sg_layer.node2edge_kernel.0.weight" in messages[0]
    assert "7 object / 5 predicate classes" in messages[0]
    assert "energy_optimizer" in messages[0]


def test_bare_ebm_energy_state_dict_is_recognised(tmp_path):
    state = ebm_state(6)
    path = tmp_path / "energy_only.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    model = load_checkpoint_file(str(path))["model"]
    assert all(k.startswith("energy_model.") for k in model)
    assert set(model) == {f"energy_model.{k}" for k in our_model().state_dict()}
    # an ordinary bare state dict is left alone
    plain = tmp_path / "plain.pth"
    torch.save({"obj_embedding.weight": torch.zeros(2, 2)}, plain)
    assert set(load_checkpoint_file(str(plain))["model"]) == {"obj_embedding.weight"}
