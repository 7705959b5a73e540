"""Objects of each image as ordered sequences in one padded batch (Motifs' LSTMs)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["SequenceBatch", "left_to_right_order", "cpu_half_autocast"]


def cpu_half_autocast(device: torch.device) -> bool:
    """True when ``device`` is a CPU and CPU autocast to float16 is on (e.g. a recipe's
    ``DTYPE: "float16"`` run with ``MODEL.DEVICE cpu``)."""
    return (device.type == "cpu" and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.float16)


def left_to_right_order(box_centres_x: Tensor, num_objs: Sequence[int]) -> list[Tensor]:
    """Per image, global object indices sorted as SGB's Motifs sorts them: by box centre x,
    descending (ties keep the lower index first)."""
    orders, start = [], 0
    for num in num_objs:
        local = torch.sort(box_centres_x[start : start + num], descending=True, stable=True)
        orders.append(local.indices + start)
        start += num
    return orders


class SequenceBatch:
    """Padded [B, T] layout of per-image object sequences, images sorted by length (longest
    first, ties by image order) so that the images still running at step t are a prefix.

    Args:
        orders: per image, the global indices of its objects in sequence order.
        num_total: number of objects in the batch (rows of the tensors to pad).
    """

    def __init__(self, orders: Sequence[Tensor], num_total: int) -> None:
        nonempty = [o for o in orders if len(o) > 0]
        nonempty.sort(key=len, reverse=True)  # stable: equal lengths keep image order
        self.num_total = num_total
        self.lengths = [len(o) for o in nonempty]
        self.max_len = self.lengths[0] if self.lengths else 0
        device = orders[0].device if len(orders) else torch.device("cpu")
        self.index = torch.zeros((len(nonempty), self.max_len), dtype=torch.long, device=device)
        self.mask = torch.zeros((len(nonempty), self.max_len), dtype=torch.bool, device=device)
        for row, order in enumerate(nonempty):
            self.index[row, : len(order)] = order
            self.mask[row, : len(order)] = True

    def pad(self, values: Tensor) -> Tensor:
        """[num_total, ...] -> [B, T, ...] (padding repeats row 0, masked out later)."""
        return values[self.index]

    def unpad(self, padded: Tensor) -> Tensor:
        """[B, T, ...] -> [num_total, ...] in the original object order."""
        out = padded.new_zeros((self.num_total, *padded.shape[2:]))
        return out.index_copy(0, self.index[self.mask], padded[self.mask])

    def run_lstm(self, lstm: nn.LSTM, values: Tensor) -> Tensor:
        """Run a (bidirectional) LSTM over every image's sequence; returns per-object outputs.

        Under CPU float16 autocast the LSTM runs in float32 with autocast off: when every
        sequence of the batch has the same length PyTorch hands a packed batch to oneDNN's
        LSTM, which has no float16 kernel on CPUs without native float16 arithmetic (seen on
        an AVX-512 + AVX512-BF16 AMD EPYC: "could not create a primitive descriptor for the
        LSTM forward propagation primitive"); a float16 LSTM gains nothing on a CPU anyway.
        GPUs and bfloat16 keep autocast's choice.
        """
        if self.max_len == 0:
            width = lstm.hidden_size * (2 if lstm.bidirectional else 1)
            return values.new_zeros((self.num_total, width))
        if cpu_half_autocast(values.device):
            with torch.autocast("cpu", enabled=False):
                return self._run_packed(lstm, values.float())
        return self._run_packed(lstm, values)

    def _run_packed(self, lstm: nn.LSTM, values: Tensor) -> Tensor:
        packed = pack_padded_sequence(self.pad(values), self.lengths, batch_first=True)
        output, _ = lstm(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=self.max_len)
        return self.unpad(output)
