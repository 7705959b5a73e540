"""Post-LN Transformer encoder over the objects of each image (SGB's model_transformer, after
"attention-is-all-you-need-pytorch"); parameter names follow SGB."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TransformerEncoder"]


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with residual and LayerNorm (post-LN)."""

    def __init__(self, n_head: int, d_model: int, d_k: int, d_v: int, dropout: float) -> None:
        super().__init__()
        self.n_head, self.d_k, self.d_v = n_head, d_k, d_v
        self.w_qs = nn.Linear(d_model, n_head * d_k)
        self.w_ks = nn.Linear(d_model, n_head * d_k)
        self.w_vs = nn.Linear(d_model, n_head * d_v)
        nn.init.normal_(self.w_qs.weight, mean=0, std=np.sqrt(2.0 / (d_model + d_k)))
        nn.init.normal_(self.w_ks.weight, mean=0, std=np.sqrt(2.0 / (d_model + d_k)))
        nn.init.normal_(self.w_vs.weight, mean=0, std=np.sqrt(2.0 / (d_model + d_v)))
        self.temperature = float(np.power(d_k, 0.5))
        self.attn_dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(d_model)
        self.fc = nn.Linear(n_head * d_v, d_model)
        nn.init.xavier_normal_(self.fc.weight)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, key_padding: Tensor) -> Tensor:
        """x [B, L, d_model]; key_padding [B, L] True at padded positions."""
        batch, length, _ = x.shape
        q = self.w_qs(x).view(batch, length, self.n_head, self.d_k).transpose(1, 2)
        k = self.w_ks(x).view(batch, length, self.n_head, self.d_k).transpose(1, 2)
        v = self.w_vs(x).view(batch, length, self.n_head, self.d_v).transpose(1, 2)
        attn = (q @ k.transpose(-1, -2)) / self.temperature  # [B, heads, L, L]
        attn = attn.masked_fill(key_padding[:, None, None, :], float("-inf"))
        attn = self.attn_dropout(torch.softmax(attn, dim=-1))
        # Heads are concatenated head-major, as SGB's permute(1, 2, 0, 3), so fc weights match.
        out = (attn @ v).transpose(1, 2).reshape(batch, length, self.n_head * self.d_v)
        return self.layer_norm(self.dropout(self.fc(out)) + x)


class PositionwiseFeedForward(nn.Module):
    """Two 1x1 convolutions (= linear layers per position) with residual and LayerNorm."""

    def __init__(self, d_in: int, d_hid: int, dropout: float) -> None:
        super().__init__()
        self.w_1 = nn.Conv1d(d_in, d_hid, 1)
        self.w_2 = nn.Conv1d(d_hid, d_in, 1)
        self.layer_norm = nn.LayerNorm(d_in)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x [B, L, d_in] -> [B, L, d_in]."""
        out = self.w_2(F.relu(self.w_1(x.transpose(1, 2)))).transpose(1, 2)
        return self.layer_norm(self.dropout(out) + x)


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward; padded positions are zeroed after each."""

    def __init__(self, d_model: int, d_inner: int, n_head: int, d_k: int, d_v: int,
                 dropout: float) -> None:
        super().__init__()
        self.slf_attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout=dropout)
        self.pos_ffn = PositionwiseFeedForward(d_model, d_inner, dropout=dropout)

    def forward(self, x: Tensor, key_padding: Tensor) -> Tensor:
        """x [B, L, d_model] -> [B, L, d_model]."""
        keep = (~key_padding).unsqueeze(-1).to(x.dtype)
        x = self.slf_attn(x, key_padding) * keep
        return self.pos_ffn(x) * keep


class TransformerEncoder(nn.Module):
    """A stack of encoder layers run on every image's objects at once (padding masked)."""

    def __init__(self, n_layers: int, n_head: int, d_k: int, d_v: int, d_model: int,
                 d_inner: int, dropout: float) -> None:
        super().__init__()
        self.layer_stack = nn.ModuleList([
            EncoderLayer(d_model, d_inner, n_head, d_k, d_v, dropout=dropout)
            for _ in range(n_layers)
        ])

    def forward(self, features: Tensor, num_objs: Sequence[int]) -> Tensor:
        """[sum N_i, d_model] object features -> contextualised features of the same shape."""
        lengths = [n for n in num_objs if n > 0]  # an image without boxes has nothing to attend
        if not lengths:
            return features
        padded = nn.utils.rnn.pad_sequence(list(features.split(lengths)), batch_first=True)
        positions = torch.arange(padded.shape[1], device=features.device)
        key_padding = positions[None, :] >= torch.tensor(lengths, device=features.device)[:, None]
        for layer in self.layer_stack:
            padded = layer(padded, key_padding)
        return padded[~key_padding]
