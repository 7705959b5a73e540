"""What the energy loss sends to the relation model: two numbers the energy objective logs.

- Gradient factor (``energy/grad_factor``). The relation model's gradient from the E- path is
  ``sum_b dL/dE-_b * dE-_b/dphi = mean_b f_b * dE-_b/dphi`` with ``f_b = B * dL/dE-_b``, where
  L is the energy part of Eq. 5 (``loss_energy + loss_energy_l2``) and B the number of images.
  ``negative_energy_grad_factor`` returns the per-image ``f_b`` by differentiating the loss
  code itself, so its batch reduction is whatever the loss does; for Eq. 2 with the mean L2
  term of Eq. 4, ``f_b = -lambda_e T + 2 lambda_r E-_b``, zero at the saturated optimum
  ``E- = lambda_e T / (2 lambda_r)``. With M negatives per image (E- of shape [B, M], the
  sampled graph in column 0 and constant hard negatives after it) the factor is returned for
  every negative, ``f_bm = B * dL/dE-_bm``; only column 0 reaches the relation model.
- Gradient ratio (``energy/grad_ratio``). ``relation_gradient_norms`` returns the norms of the
  energy losses' and the task losses' gradients with respect to the relation logits (all
  images together), keeping the autograd graph for the training step's backward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = ["negative_energy_grad_factor", "relation_gradient_norms"]


def negative_energy_grad_factor(energy_terms: Callable[[Tensor, Tensor], Tensor],
                                positive: Tensor, negative: Tensor) -> Tensor:
    """Factors ``B * d energy_terms(E+, E-) / d E-`` ([B] or [B, M], like ``negative``) on
    detached float32 copies; B is the number of images (rows of ``negative``)."""
    with torch.enable_grad(), torch.autocast(negative.device.type, enabled=False):
        leaf = negative.detach().float().clone().requires_grad_(True)
        total = energy_terms(positive.detach().float(), leaf)
        (grad,) = torch.autograd.grad(total, leaf)
    return grad * leaf.shape[0]


def relation_gradient_norms(energy_loss: Tensor, task_loss: Tensor | None,
                            relation_logits: Sequence[Tensor]) -> tuple[float, float]:
    """(||d energy_loss / d logits||, ||d task_loss / d logits||) over every image's logits.

    The graph is retained (the training step back-propagates afterwards); a loss that does not
    reach the logits has norm 0. Only the logits' gradients are computed, no parameter's
    ``.grad`` is touched.
    """
    logits = [tensor for tensor in relation_logits if tensor.requires_grad]
    return _grad_norm(energy_loss, logits), _grad_norm(task_loss, logits)


def _grad_norm(loss: Tensor | None, inputs: list[Tensor]) -> float:
    if loss is None or not inputs or not loss.requires_grad:
        return 0.0
    grads = torch.autograd.grad(loss, inputs, retain_graph=True, allow_unused=True)
    squares = [grad.float().pow(2).sum() for grad in grads if grad is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0
