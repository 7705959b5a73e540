"""VCTree pieces: greedy tree, binary forest, batched tree LSTMs and the tree scorer."""

import numpy as np
import pytest
import torch
from torch import nn

from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictors.vctree import (
    VCTreeLSTMContext,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.tree_lstm import (
    DownwardTreeLSTM,
    MultiLayerBiTreeLSTM,
    UpwardTreeLSTM,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.vctree_tree import (
    build_binary_forest,
    greedy_spanning_tree,
)
from maskrcnn_benchmark.structures.scene_graph import SGGTask


def test_greedy_spanning_tree_hand_example():
    scores = np.array([
        [0.0, 0.9, 0.1, 0.2],
        [0.3, 0.0, 0.8, 0.7],
        [0.1, 0.2, 0.0, 0.95],
        [0.1, 0.1, 0.1, 0.0],
    ])
    # Row means: 0.3, 0.45, 0.3125, 0.075 -> root 1. Then best (chosen -> remaining) pairs:
    # 1->2 (0.8), 2->3 (0.95), 1->0 (0.3).
    root, children = greedy_spanning_tree(scores)
    assert root == 1
    assert children == [[], [2, 0], [3], []]


def test_greedy_spanning_tree_ties_prefer_earliest_parent_then_lowest_child():
    root, children = greedy_spanning_tree(np.ones((4, 4)))
    assert root == 0 and children == [[1, 2, 3], [], [], []]


def test_binary_forest_left_child_right_sibling_and_levels():
    scores = torch.tensor([
        [0.0, 0.9, 0.1, 0.2],
        [0.3, 0.0, 0.8, 0.7],
        [0.1, 0.2, 0.0, 0.95],
        [0.1, 0.1, 0.1, 0.0],
    ])
    forest = build_binary_forest([torch.zeros(1, 1), scores], torch.device("cpu"))
    # Image 0 is node 0; image 1 holds nodes 1..4 (local 0..3). Arbitrary tree of image 1:
    # 1 -> [2, 0], 2 -> [3]. Binary: left(1) = 2, right(2) = 0, left(2) = 3.
    assert forest.left.tolist() == [-1, -1, 3, 4, -1]
    assert forest.right.tolist() == [-1, -1, -1, 1, -1]
    assert forest.parent.tolist() == [-1, 3, -1, 2, 3]
    assert forest.image.tolist() == [0, 1, 1, 1, 1]
    assert [lv.tolist() for lv in forest.top_down] == [[0, 2], [3], [1, 4]]
    assert [lv.tolist() for lv in forest.bottom_up] == [[0, 1, 4], [3], [2]]


class _RecursiveReference:
    """Node-by-node recursion over the binary trees, as SGB computes them."""

    def __init__(self, forest):
        self.left, self.right = forest.left.tolist(), forest.right.tolist()
        self.parent = forest.parent.tolist()

    def upward(self, cell: UpwardTreeLSTM, x):
        h_dim = cell.h_dim
        states = {}

        def visit(node):
            kids = []
            for child in (self.left[node], self.right[node]):
                if child >= 0:
                    visit(child)
                kids.append(states[child] if child >= 0 else (x.new_zeros(1, h_dim),) * 2)
            (lc, lh), (rc, rh) = kids
            xi = x[node : node + 1]
            gates = cell.ioffux(xi) + cell.ioffuh_left(lh) + cell.ioffuh_right(rh)
            i, o, fl, fr, u, r = gates.chunk(6, 1)
            c = (torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(fl) * lc
                 + torch.sigmoid(fr) * rc)
            h = torch.sigmoid(o) * torch.tanh(c)
            h = torch.sigmoid(r) * h + (1 - torch.sigmoid(r)) * cell.px(xi)
            states[node] = (c, h)

        for root in [n for n, p in enumerate(self.parent) if p < 0]:
            visit(root)
        return torch.cat([states[n][1] for n in range(len(self.parent))])

    def downward(self, cell: DownwardTreeLSTM, x):
        h_dim = cell.h_dim
        states = {}

        def visit(node):
            p = self.parent[node]
            pc, ph = states[p] if p >= 0 else (x.new_zeros(1, h_dim),) * 2
            xi = x[node : node + 1]
            i, o, f, u, r = (cell.iofux(xi) + cell.iofuh(ph)).chunk(5, 1)
            c = torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(f) * pc
            h = torch.sigmoid(o) * torch.tanh(c)
            states[node] = (c, torch.sigmoid(r) * h + (1 - torch.sigmoid(r)) * cell.px(xi))
            for child in (self.left[node], self.right[node]):
                if child >= 0:
                    visit(child)

        for root in [n for n, p in enumerate(self.parent) if p < 0]:
            visit(root)
        return torch.cat([states[n][1] for n in range(len(self.parent))])


def _random_forest(generator):
    scores = [torch.rand(n, n, generator=generator) for n in (5, 1, 7)]
    return build_binary_forest(scores, torch.device("cpu"))


def test_batched_tree_lstms_equal_node_by_node_recursion():
    generator = torch.Generator().manual_seed(0)
    forest = _random_forest(generator)
    x = torch.randn(len(forest), 6, generator=generator, requires_grad=True)
    reference = _RecursiveReference(forest)
    for cell, ref in ((UpwardTreeLSTM(6, 4), reference.upward),
                      (DownwardTreeLSTM(6, 4), reference.downward)):
        ours = cell(x, forest, None)
        expected = ref(cell, x)
        assert torch.allclose(ours, expected, atol=1e-6)
        grad_ours = torch.autograd.grad(ours.pow(2).sum(), [x, *cell.parameters()])
        grad_ref = torch.autograd.grad(expected.pow(2).sum(), [x, *cell.parameters()])
        for a, b in zip(grad_ours, grad_ref):
            assert torch.allclose(a, b, atol=1e-5)


def test_tree_lstm_weights_use_block_orthogonal_init_and_sgb_forget_biases():
    cell = UpwardTreeLSTM(10, 4)
    block = cell.ioffux.weight[4:8]
    assert torch.allclose(block @ block.T, torch.eye(4), atol=1e-5)
    bias = cell.ioffuh_left.bias
    assert torch.all(bias[8:16] == 0.5) and torch.all(bias[:8] == 0)
    down = DownwardTreeLSTM(10, 4)
    assert torch.all(down.iofuh.bias[8:12] == 1.0) and torch.all(down.iofuh.bias[12:] == 0)


def test_bidirectional_layer_concatenates_both_directions():
    forest = _random_forest(torch.Generator().manual_seed(1))
    lstm = MultiLayerBiTreeLSTM(6, 8, num_layer=2, dropout=0.0)
    out = lstm(torch.randn(len(forest), 6), forest, num_images=3)
    assert out.shape == (len(forest), 8)
    assert set(dict(lstm.named_parameters())) >= {
        "multi_layer_lstm.1.treeLSTM_foreward.treeLSTM.ioffuh_right.weight",
        "multi_layer_lstm.0.treeLSTM_backward.treeLSTM.iofux.weight",
    }


def test_tree_scorer_equals_sgb_pairwise_formula():
    torch.manual_seed(0)
    names = ["bg", "a", "b", "c"]
    context = VCTreeLSTMContext(
        task=SGGTask.SGCLS, obj_classes=names, in_channels=12, embed_dim=4, hidden_dim=6,
        dropout_rate=0.0, num_obj_layers=1, num_rel_layers=1, glove_dir="/nonexistent",
        pred_dist=torch.randn(4, 4, 3),
    )
    num_objs = [3, 2]
    bi_inp = torch.randn(5, 512)
    logits = torch.randn(5, 4)
    ours = context.pair_scores(bi_inp, logits, num_objs)
    dist = torch.softmax(logits, 1)
    roi = torch.relu(context.score_pre(bi_inp))
    sub, obj = torch.relu(context.score_sub(roi)), torch.relu(context.score_obj(roi))
    start = 0
    for n, mine in zip(num_objs, ours):
        d, s, o = dist[start:start + n], sub[start:start + n], obj[start:start + n]
        # SGB: rows i carry obj_i and dist_i, columns j carry sub_j and dist_j.
        sub_e = s.view(1, n, -1).expand(n, n, -1)
        obj_e = o.view(n, 1, -1).expand(n, n, -1)
        joint = (d.view(1, n, 1, -1) * d.view(n, 1, -1, 1)).reshape(n, n, -1)
        co_prior = context.bi_freq_prior(joint.reshape(n * n, -1)).view(n, n)
        vis = context.vision_prior(torch.cat([sub_e * obj_e, sub_e, obj_e, co_prior[..., None]],
                                             -1).view(n * n, -1)).view(n, n)
        assert torch.allclose(mine, torch.sigmoid(vis) * co_prior, atol=1e-5)
        start += n
    # The prior starts as the symmetrised sum over predicates of pred_dist.
    weight = context.bi_freq_prior.weight.view(4, 4)
    assert torch.allclose(weight, weight.T)


def test_tree_decoder_eval_labels_are_argmax_of_their_logits():
    torch.manual_seed(0)
    forest = _random_forest(torch.Generator().manual_seed(2))
    embed = nn.Embedding(5, 3)
    out = nn.Linear(4, 4)
    decoder = DownwardTreeLSTM(6 + 3, 4, embed_layer=embed, embed_out_layer=out).eval()
    logits, labels = decoder.decode(torch.randn(len(forest), 6), forest, None)
    assert torch.equal(labels, logits[:, 1:].argmax(1) + 1)


def test_tree_decoder_training_on_diverged_features_is_one_clear_error():
    """NaN features (a diverged model) name the cause instead of torch.multinomial's error."""
    forest = _random_forest(torch.Generator().manual_seed(2))
    decoder = DownwardTreeLSTM(6 + 3, 4, embed_layer=nn.Embedding(5, 3),
                               embed_out_layer=nn.Linear(4, 4)).train()
    features = torch.randn(len(forest), 6)
    decoder.decode(features, forest, None)  # finite: samples labels, no error
    features[0] = float("nan")
    with pytest.raises(FloatingPointError, match="object decoder got non-finite logits"):
        decoder.decode(features, forest, None)
