"""Bidirectional binary tree LSTMs of VCTree, run level by level over a whole batch.

SGB visits the nodes of one tree at a time recursively; here all nodes of one level of every
tree in the batch are one batched step (leaves-to-root by height, root-to-leaves by depth),
which computes the same function. Module and parameter names follow SGB's utils_treelstm.py.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .recurrent_dropout import draw_dropout_mask
from .vctree_tree import BinaryForest

__all__ = ["MultiLayerBiTreeLSTM", "DownwardTreeLSTM", "UpwardTreeLSTM"]


def _block_orthogonal(weight: Tensor, block_rows: int) -> None:
    """SGB's block_orthogonal for [k * h, d] weights: each [h, d] block orthogonal (gain 1)."""
    with torch.no_grad():
        for start in range(0, weight.shape[0], block_rows):
            nn.init.orthogonal_(weight[start : start + block_rows])


def _with_empty_row(num: int, width: int, like: Tensor) -> Tensor:
    """A zero state buffer with one extra row, index ``num``, standing for "no node"."""
    return like.new_zeros((num + 1, width))


def _store(buffer: Tensor, nodes: Tensor, values: Tensor) -> None:
    """Write one level's rows (autograd-safe: reads before it saved no buffer values); under
    autocast the values may come in a lower precision than the buffer."""
    buffer.index_copy_(0, nodes, values.to(buffer.dtype))


def _slot(links: Tensor, num: int) -> Tensor:
    return torch.where(links >= 0, links, torch.full_like(links, num))


class UpwardTreeLSTM(nn.Module):
    """Leaves to root (SGB's BiTreeLSTM_Foreward): gates i, o, f_left, f_right, u, r from the
    input and both children; highway output r * h + (1 - r) * px(x)."""

    def __init__(self, feat_dim: int, h_dim: int) -> None:
        super().__init__()
        self.h_dim = h_dim
        self.px = nn.Linear(feat_dim, h_dim)
        self.ioffux = nn.Linear(feat_dim, 6 * h_dim)
        self.ioffuh_left = nn.Linear(h_dim, 6 * h_dim)
        self.ioffuh_right = nn.Linear(h_dim, 6 * h_dim)
        for layer in (self.px, self.ioffux, self.ioffuh_left, self.ioffuh_right):
            _block_orthogonal(layer.weight, h_dim)
            nn.init.constant_(layer.bias, 0.0)
        with torch.no_grad():  # forget-gate biases 0.5 (SGB)
            self.ioffuh_left.bias[2 * h_dim : 4 * h_dim].fill_(0.5)
            self.ioffuh_right.bias[2 * h_dim : 4 * h_dim].fill_(0.5)

    def forward(self, features: Tensor, forest: BinaryForest, dropout_mask: Tensor | None
                ) -> Tensor:
        """[N, feat_dim] -> [N, h_dim] hidden states."""
        num = len(forest)
        cell = _with_empty_row(num, self.h_dim, features)
        hidden = _with_empty_row(num, self.h_dim, features)
        left, right = _slot(forest.left, num), _slot(forest.right, num)
        for nodes in forest.bottom_up:
            x = features[nodes]
            lc, lh = cell[left[nodes]], hidden[left[nodes]]
            rc, rh = cell[right[nodes]], hidden[right[nodes]]
            gates = self.ioffux(x) + self.ioffuh_left(lh) + self.ioffuh_right(rh)
            i, o, f_l, f_r, u, r = gates.chunk(6, dim=1)
            c = torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(f_l) * lc + torch.sigmoid(f_r) * rc
            h = torch.sigmoid(o) * torch.tanh(c)
            gate = torch.sigmoid(r)
            h = gate * h + (1 - gate) * self.px(x)
            if dropout_mask is not None and self.training:
                h = h * dropout_mask[forest.image[nodes]]
            _store(cell, nodes, c)
            _store(hidden, nodes, h)
        return hidden[:num]


class DownwardTreeLSTM(nn.Module):
    """Root to leaves (SGB's BiTreeLSTM_Backward): gates i, o, f, u, r from the input and the
    binary parent. With ``embed_layer`` / ``embed_out_layer`` it is VCTree's object decoder:
    each node also reads its parent's label embedding (the root reads row 0, "start")."""

    def __init__(self, feat_dim: int, h_dim: int, embed_layer: nn.Embedding | None = None,
                 embed_out_layer: nn.Linear | None = None) -> None:
        super().__init__()
        self.h_dim = h_dim
        self.embed_layer = embed_layer
        self.embed_out_layer = embed_out_layer
        self.px = nn.Linear(feat_dim, h_dim)
        self.iofux = nn.Linear(feat_dim, 5 * h_dim)
        self.iofuh = nn.Linear(h_dim, 5 * h_dim)
        for layer in (self.px, self.iofux, self.iofuh):
            _block_orthogonal(layer.weight, h_dim)
            nn.init.constant_(layer.bias, 0.0)
        with torch.no_grad():  # forget-gate bias 1.0 (SGB)
            self.iofuh.bias[2 * h_dim : 3 * h_dim].fill_(1.0)

    def _cell(self, x: Tensor, pc: Tensor, ph: Tensor, mask: Tensor | None
              ) -> tuple[Tensor, Tensor]:
        i, o, f, u, r = (self.iofux(x) + self.iofuh(ph)).chunk(5, dim=1)
        c = torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(f) * pc
        h = torch.sigmoid(o) * torch.tanh(c)
        gate = torch.sigmoid(r)
        h = gate * h + (1 - gate) * self.px(x)
        if mask is not None and self.training:
            h = h * mask
        return c, h

    def forward(self, features: Tensor, forest: BinaryForest, dropout_mask: Tensor | None
                ) -> Tensor:
        """[N, feat_dim] -> [N, h_dim] hidden states."""
        num = len(forest)
        cell = _with_empty_row(num, self.h_dim, features)
        hidden = _with_empty_row(num, self.h_dim, features)
        parent = _slot(forest.parent, num)
        for nodes in forest.top_down:
            mask = dropout_mask[forest.image[nodes]] if dropout_mask is not None else None
            c, h = self._cell(features[nodes], cell[parent[nodes]], hidden[parent[nodes]], mask)
            _store(cell, nodes, c)
            _store(hidden, nodes, h)
        return hidden[:num]

    def decode(self, features: Tensor, forest: BinaryForest, dropout_mask: Tensor | None
               ) -> tuple[Tensor, Tensor]:
        """Classify nodes root to leaves; returns logits [N, C] and argmax labels [N].

        Training passes a label sampled from the softmax over the non-background classes to
        the children; evaluation passes the argmax (SGB)."""
        num = len(forest)
        cell = _with_empty_row(num, self.h_dim, features)
        hidden = _with_empty_row(num, self.h_dim, features)
        start = self.embed_layer.weight[0:1]
        label_embed = torch.cat((start.new_zeros((num, start.shape[1])), start), dim=0)
        logits = features.new_zeros((num, self.embed_out_layer.out_features))
        labels = torch.zeros(num, dtype=torch.long, device=features.device)
        parent = _slot(forest.parent, num)
        for nodes in forest.top_down:
            mask = dropout_mask[forest.image[nodes]] if dropout_mask is not None else None
            x = torch.cat((features[nodes], label_embed[parent[nodes]]), dim=1)
            c, h = self._cell(x, cell[parent[nodes]], hidden[parent[nodes]], mask)
            _store(cell, nodes, c)
            _store(hidden, nodes, h)
            node_logits = self.embed_out_layer(h)
            best = node_logits[:, 1:].argmax(dim=1) + 1
            passed = best
            if self.training:
                probs = torch.softmax(node_logits.detach(), dim=1)[:, 1:]
                if not bool(torch.isfinite(probs).all()):
                    raise FloatingPointError(
                        "VCTree's object decoder got non-finite logits in training: the model "
                        "has diverged (see the previous iteration's losses). Lower "
                        "SOLVER.BASE_LR or load a trained detector "
                        "(MODEL.PRETRAINED_DETECTOR_CKPT); a random-init detector's features "
                        "can make the first losses explode")
                passed = torch.multinomial(probs, 1).squeeze(1) + 1
            _store(label_embed, nodes, self.embed_layer(passed + 1))
            _store(logits, nodes, node_logits)
            labels[nodes] = best
        return logits, labels


class _OneDirection(nn.Module):
    """Holds one direction's cell as ``treeLSTM`` (SGB's OneDirectionalTreeLSTM)."""

    def __init__(self, cell: nn.Module, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.treeLSTM = cell
        self.out_dim = out_dim
        self.dropout = dropout

    def forward(self, features: Tensor, forest: BinaryForest, num_images: int) -> Tensor:
        mask = None
        if self.training and self.dropout > 0.0:
            mask = draw_dropout_mask(self.dropout, num_images, self.out_dim, features.device)
        return self.treeLSTM(features, forest, mask)


class BidirectionalTreeLSTM(nn.Module):
    """Concatenation of the leaves-to-root and root-to-leaves passes (out_dim / 2 each)."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        half = out_dim // 2
        self.treeLSTM_foreward = _OneDirection(UpwardTreeLSTM(in_dim, half), half, dropout)
        self.treeLSTM_backward = _OneDirection(DownwardTreeLSTM(in_dim, half), half, dropout)

    def forward(self, features: Tensor, forest: BinaryForest, num_images: int) -> Tensor:
        return torch.cat((self.treeLSTM_foreward(features, forest, num_images),
                          self.treeLSTM_backward(features, forest, num_images)), dim=1)


class MultiLayerBiTreeLSTM(nn.Module):
    """Stacked bidirectional tree LSTMs (SGB's MultiLayer_BTreeLSTM)."""

    def __init__(self, in_dim: int, out_dim: int, num_layer: int, dropout: float) -> None:
        super().__init__()
        if out_dim % 2:
            raise ValueError(f"tree LSTM width {out_dim} must be even (two directions)")
        dims = [in_dim] + [out_dim] * (num_layer - 1)
        self.multi_layer_lstm = nn.ModuleList(
            [BidirectionalTreeLSTM(d, out_dim, dropout) for d in dims])

    def forward(self, features: Tensor, forest: BinaryForest, num_images: int) -> Tensor:
        """[N, in_dim] -> [N, out_dim]."""
        for layer in self.multi_layer_lstm:
            features = layer(features, forest, num_images)
        return features
