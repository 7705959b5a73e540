"""Spectral normalisation of the energy model's weights (ENERGY_MODEL.SPECTRAL_NORM).

Every ``nn.Linear`` weight and both ``nn.GRUCell`` weights (``weight_ih`` [3h, in] and
``weight_hh`` [3h, h], the three gates stacked, so each gate's block has norm <= 1 too) are
reparametrised with ``torch.nn.utils.parametrizations.spectral_norm``: W = W_orig / sigma with
sigma = u^T W_orig v, u and v estimated by power iteration (buffers ``_u`` / ``_v``, 15
iterations at registration). Biases, LayerNorm and the GRU nonlinearities are not normalised.

- Training mode: each evaluation of a weight first runs one power iteration, in place on the
  buffers under ``no_grad``, then divides by sigma computed from *copies* of u and v, so
  gradients reach W_orig through sigma with u, v held constant and several forwards may share
  one backward (E+ and E-). ``GraphEnergyModel`` evaluates each weight once per forward
  (``weights_once``), so one forward is one power iteration per weight, whatever ITERS.
- Eval mode: no power iteration; the stored u, v are used, so the energy is a fixed,
  deterministic function.
- Samplers: every SGLD step is one forward followed by ``torch.autograd.grad`` with respect
  to the states. In training mode each step therefore also advances u, v by one iteration
  (the buffers drift towards the exact singular vectors; nothing else is written, parameter
  ``.grad`` stays untouched); ``GRAD_MODE unroll`` (``create_graph=True``) differentiates
  through sigma as well.
- State dict: a normalised weight is stored as ``<module>.parametrizations.<name>.original``
  (W_orig) plus ``<module>.parametrizations.<name>.0._u`` / ``._v``; saving and loading such a
  state dict restores the same energies in both modes. Checkpoints written without spectral
  norm (and mapped EBM-code checkpoints) store plain ``<module>.<name>`` keys instead and do not
  match these names.
"""

from __future__ import annotations

import contextlib

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["apply_spectral_norm", "spectral_norm_targets", "weights_once"]

_TARGETS: tuple[tuple[type[nn.Module], tuple[str, ...]], ...] = (
    (nn.Linear, ("weight",)),
    (nn.GRUCell, ("weight_ih", "weight_hh")),
)


def spectral_norm_targets(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """(module path, module, tensor name) of every weight that spectral norm applies to."""
    return [(path, module, name) for path, module in model.named_modules()
            for cls, names in _TARGETS if isinstance(module, cls) for name in names]


def apply_spectral_norm(model: nn.Module) -> int:
    """Reparametrise every Linear / GRUCell weight of ``model`` in place; returns the count."""
    targets = spectral_norm_targets(model)  # listed first: registration adds submodules
    for _, module, name in targets:
        spectral_norm(module, name=name)
    return len(targets)


def weights_once(enabled: bool) -> contextlib.AbstractContextManager:
    """A block in which each parametrised weight is computed once and reused (if enabled)."""
    return parametrize.cached() if enabled else contextlib.nullcontext()
