"""Energy losses (EBM paper Eq. 2 and 4) on per-image energies of GT and sampled graphs.

Each ENERGY_LOSSES entry is built as ``entry(temperature=T)`` and called as
``loss(positive_energy [B], negative_energy [B]) -> scalar``. The L2 regulariser of Eq. 4 is
separate (``energy_l2_regularizer``) and weighted by ENERGY_MODEL.L2COEFF for every loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from maskrcnn_benchmark.modeling.registry import ENERGY_LOSSES

__all__ = ["ContrastiveDivergence", "SoftPlus", "LogSumExp", "energy_l2_regularizer",
           "build_energy_loss"]


@ENERGY_LOSSES.register("ContrastiveDivergence")
class ContrastiveDivergence:
    """Eq. 2 with a temperature: ``T * (mean E+ - mean E-)``."""

    def __init__(self, *, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, positive_energy: Tensor, negative_energy: Tensor) -> Tensor:
        """Scalar loss."""
        return self.temperature * (positive_energy.mean() - negative_energy.mean())


@ENERGY_LOSSES.register("SoftPlus")
class SoftPlus:
    """``mean softplus(T * (E+ - E-))`` over images (the EBM code forgot the mean)."""

    def __init__(self, *, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, positive_energy: Tensor, negative_energy: Tensor) -> Tensor:
        """Scalar loss."""
        return F.softplus(self.temperature * (positive_energy - negative_energy)).mean()


@ENERGY_LOSSES.register("LogSumExp")
class LogSumExp:
    """EBM code's variant: ``mean(T E+) - T * sum_b w_b r_b`` with ``r = E- - min E-``.

    ``w_b = exp(-T r_b) / (sum_k exp(-T r_k) + 1e-4)`` softly selects the lowest negative
    energies (gradients flow through ``w`` and ``min E-`` as in the EBM code).
    """

    def __init__(self, *, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, positive_energy: Tensor, negative_energy: Tensor) -> Tensor:
        """Scalar loss."""
        shifted = negative_energy - negative_energy.min()
        weights = torch.exp(-self.temperature * shifted)
        weights = weights / (weights.sum() + 1e-4)
        return (self.temperature * positive_energy.mean()
                - self.temperature * (weights * shifted).sum())


def energy_l2_regularizer(positive_energy: Tensor, negative_energy: Tensor) -> Tensor:
    """Eq. 4 averaged over images: ``mean(E+^2 + E-^2)`` (the EBM code sums over images)."""
    return (positive_energy.pow(2) + negative_energy.pow(2)).mean()


def build_energy_loss(cfg):
    """The ENERGY_LOSSES entry named by ENERGY_MODEL.LOSS with ENERGY_MODEL.TEMP."""
    return ENERGY_LOSSES.get(cfg.ENERGY_MODEL.LOSS)(temperature=cfg.ENERGY_MODEL.TEMP)
