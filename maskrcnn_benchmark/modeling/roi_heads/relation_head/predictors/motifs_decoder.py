"""Motifs' object decoder: a highway LSTM that classifies the objects of each image in order."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..glove import class_name_vectors
from ..recurrent_dropout import draw_dropout_mask
from .sequences import SequenceBatch

__all__ = ["DecoderRNN"]


class DecoderRNN(nn.Module):
    """Highway LSTM decoder (SGB's DecoderRNN, from neural-motifs).

    Each step reads an object's features and the embedding of the previous object's label
    (``obj_embed`` row 0 = "start", row c + 1 = class c). Training feeds the given labels
    (teacher forcing; a background label is replaced by the step's best non-background class);
    evaluation feeds the step's best non-background class. A recurrent dropout mask is drawn
    once per image and forward pass. All images of a batch are decoded together; SGB's
    one-image-per-batch test restriction only existed for its cross-image NMS.
    """

    def __init__(
        self, *, obj_classes: Sequence[str], embed_dim: int, inputs_dim: int, hidden_dim: int,
        rnn_drop: float, glove_dir: str,
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_dim
        self.rnn_drop = rnn_drop
        self.obj_embed = nn.Embedding(len(obj_classes) + 1, embed_dim)
        with torch.no_grad():
            self.obj_embed.weight.copy_(
                class_name_vectors(["start", *obj_classes], glove_dir, embed_dim))
        self.input_linearity = nn.Linear(inputs_dim + embed_dim, 6 * hidden_dim)
        self.state_linearity = nn.Linear(hidden_dim, 5 * hidden_dim)
        self.out_obj = nn.Linear(hidden_dim, len(obj_classes))
        nn.init.constant_(self.state_linearity.bias, 0.0)
        nn.init.constant_(self.input_linearity.bias, 0.0)

    def _step(
        self, step_input: Tensor, state: Tensor, memory: Tensor, dropout_mask: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        hidden = self.hidden_size
        proj_in = self.input_linearity(step_input)
        proj_state = self.state_linearity(state)
        gates = proj_in[:, : 5 * hidden] + proj_state
        input_gate = torch.sigmoid(gates[:, :hidden])
        forget_gate = torch.sigmoid(gates[:, hidden : 2 * hidden])
        memory_init = torch.tanh(gates[:, 2 * hidden : 3 * hidden])
        output_gate = torch.sigmoid(gates[:, 3 * hidden : 4 * hidden])
        highway_gate = torch.sigmoid(gates[:, 4 * hidden : 5 * hidden])
        memory = input_gate * memory_init + forget_gate * memory
        output = output_gate * torch.tanh(memory)
        output = highway_gate * output + (1 - highway_gate) * proj_in[:, 5 * hidden :]
        if dropout_mask is not None:
            output = output * dropout_mask
        return output, memory

    def forward(
        self, features: Tensor, layout: SequenceBatch, labels: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Decode every image's sequence.

        Args:
            features: [N, inputs_dim] per-object decoder inputs.
            layout: the per-image object order.
            labels: [N] labels to feed in training, None in evaluation.
        Returns:
            object logits [N, C] and the labels fed forward ("commitments") [N].
        """
        num_images = len(layout.lengths)
        if layout.max_len == 0:
            return (features.new_zeros((layout.num_total, self.out_obj.out_features)),
                    torch.zeros(layout.num_total, dtype=torch.long, device=features.device))
        padded = layout.pad(features)
        padded_labels = layout.pad(labels) if labels is not None else None
        state = features.new_zeros((num_images, self.hidden_size))
        memory = features.new_zeros((num_images, self.hidden_size))
        prev_embed = self.obj_embed.weight[0].expand(num_images, -1)
        dropout_mask = None
        if self.training and self.rnn_drop > 0.0:
            dropout_mask = draw_dropout_mask(self.rnn_drop, num_images, self.hidden_size,
                                             features.device)
        step_logits, step_labels = [], []
        lengths = torch.tensor(layout.lengths)
        for t in range(layout.max_len):
            active = int((lengths > t).sum())  # images are sorted by length: a prefix runs
            state, memory = state[:active], memory[:active]
            step_input = torch.cat((padded[:active, t], prev_embed[:active]), dim=1)
            mask = dropout_mask[:active] if dropout_mask is not None else None
            state, memory = self._step(step_input, state, memory, mask)
            logits = self.out_obj(state)
            best = logits[:, 1:].argmax(dim=1) + 1
            if padded_labels is not None:
                fed = padded_labels[:active, t].long()
                fed = torch.where(fed == 0, best, fed)
            else:
                fed = best
            prev_embed = self.obj_embed(fed + 1)
            step_logits.append(logits)
            step_labels.append(fed)
        return (layout.unpad(_stack_steps(step_logits, num_images)),
                layout.unpad(_stack_steps(step_labels, num_images)))


def _stack_steps(steps: list[Tensor], num_images: int) -> Tensor:
    """Per-step outputs of the running prefix of images -> [B, T, ...] (zeros past the end)."""
    padded = [torch.cat((s, s.new_zeros((num_images - len(s), *s.shape[1:])))) for s in steps]
    return torch.stack(padded, dim=1)
