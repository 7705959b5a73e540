"""Energy losses (EBM paper Eq. 2 and 4) on per-image energies of GT and negative graphs.

Each ENERGY_LOSSES entry is built by ``build_energy_loss`` (``entry(temperature=T)``, plus
``margin=ENERGY_MODEL.MARGIN`` for entries with ``uses_distance``) and called as

    loss(positive [B], negative [B] or [B, M], distance=None, mask=None) -> scalar

``negative`` holds one energy per negative graph: [B] for one negative per image (the EBM
code), [B, M] for M negatives per image (column 0 the sampled graph, then the hard negatives).
``distance`` [B, M] is the number of labels in which each negative differs from its positive
(only ``Margin`` reads it), ``mask`` [B, M] bool marks the negatives that exist (a hard negative
of an image with nothing to change does not). Every loss averages over the existing negatives of
an image, then over images, so [B] and [B, 1] inputs give the same value. The L2 regulariser of
Eq. 4 is separate (``energy_l2_regularizer``) and weighted by ENERGY_MODEL.L2COEFF for every loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from maskrcnn_benchmark.modeling.registry import ENERGY_LOSSES

__all__ = ["ContrastiveDivergence", "SoftPlus", "LogSumExp", "Margin", "L2_REDUCTIONS",
           "energy_l2_regularizer", "per_image_mean", "build_energy_loss"]

# Reductions of Eq. 4 over the images of a batch (ENERGY_MODEL.L2_REDUCTION).
L2_REDUCTIONS = ("mean", "sum")


def per_image_mean(values: Tensor, mask: Tensor | None = None) -> Tensor:
    """[B] values unchanged; [B, M] values averaged over each row's ``mask``-ed entries."""
    if values.dim() == 1:
        return values
    if mask is None:
        return values.mean(dim=1)
    weights = mask.to(values.dtype)
    count = weights.sum(dim=1)
    if bool((count == 0).any()):
        raise ValueError("energy loss: an image has no negative graph left after masking "
                         "(its sampled negative must always be present)")
    return (values * weights).sum(dim=1) / count


def _pairwise(positive: Tensor, negative: Tensor) -> Tensor:
    """E+ - E-, broadcast to the shape of ``negative`` ([B] or [B, M])."""
    return positive - negative if negative.dim() == 1 else positive.unsqueeze(1) - negative


@ENERGY_LOSSES.register("ContrastiveDivergence")
class ContrastiveDivergence:
    """Eq. 2 with a temperature: ``T * (mean E+ - mean E-)``."""

    uses_distance = False

    def __init__(self, *, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, positive_energy: Tensor, negative_energy: Tensor,
                 distance: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """Scalar loss (E- averaged per image first)."""
        negative = per_image_mean(negative_energy, mask)
        return self.temperature * (positive_energy.mean() - negative.mean())


@ENERGY_LOSSES.register("SoftPlus")
class SoftPlus:
    """``mean softplus(T * (E+ - E-))`` over negatives and images (the EBM code forgot the
    mean)."""

    uses_distance = False

    def __init__(self, *, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, positive_energy: Tensor, negative_energy: Tensor,
                 distance: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """Scalar loss."""
        values = F.softplus(self.temperature * _pairwise(positive_energy, negative_energy))
        return per_image_mean(values, mask).mean()


@ENERGY_LOSSES.register("LogSumExp")
class LogSumExp:
    """EBM code's variant: ``mean(T E+) - T * sum_j w_j r_j`` with ``r = E- - min E-``.

    ``w_j = exp(-T r_j) / (sum_k exp(-T r_k) + 1e-4)`` softly selects the lowest negative
    energies of the whole batch (with several negatives per image: over every existing one);
    gradients flow through ``w`` and ``min E-`` as in the EBM code.
    """

    uses_distance = False

    def __init__(self, *, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, positive_energy: Tensor, negative_energy: Tensor,
                 distance: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """Scalar loss."""
        negative = negative_energy if mask is None else negative_energy[mask]
        negative = negative.reshape(-1) if negative.dim() > 1 else negative
        shifted = negative - negative.min()
        weights = torch.exp(-self.temperature * shifted)
        weights = weights / (weights.sum() + 1e-4)
        return (self.temperature * positive_energy.mean()
                - self.temperature * (weights * shifted).sum())


@ENERGY_LOSSES.register("Margin")
class Margin:
    """Structured hinge: ``mean max(0, margin * d + T (E+ - E-))`` over negatives and images.

    ``d`` is the number of labels in which a negative differs from its positive (1 where no
    distance is given): zero loss, and zero gradient, once E- exceeds E+ by ``margin * d / T``,
    so the energies are not driven to a fixed point.
    """

    uses_distance = True

    def __init__(self, *, temperature: float, margin: float) -> None:
        if margin < 0:
            raise ValueError(f"ENERGY_MODEL.MARGIN must be >= 0, got {margin}")
        self.temperature = temperature
        self.margin = margin

    def hinge_input(self, positive_energy: Tensor, negative_energy: Tensor,
                    distance: Tensor | None = None) -> Tensor:
        """``margin * d + T (E+ - E-)`` per negative (the hinge is active where it is > 0)."""
        gap = self.temperature * _pairwise(positive_energy, negative_energy)
        if distance is None:
            return self.margin + gap
        return self.margin * distance.to(gap.dtype) + gap

    def __call__(self, positive_energy: Tensor, negative_energy: Tensor,
                 distance: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """Scalar loss."""
        values = torch.relu(self.hinge_input(positive_energy, negative_energy, distance))
        return per_image_mean(values, mask).mean()


def energy_l2_regularizer(positive_energy: Tensor, negative_energy: Tensor,
                          mask: Tensor | None = None, reduction: str = "mean") -> Tensor:
    """Eq. 4: per image ``E+^2 + mean over its negatives of E-^2``, then "mean" (this package)
    or "sum" (the EBM code) over images."""
    per_image = positive_energy.pow(2) + per_image_mean(negative_energy.pow(2), mask)
    if reduction == "mean":
        return per_image.mean()
    if reduction == "sum":
        return per_image.sum()
    raise ValueError(f"ENERGY_MODEL.L2_REDUCTION must be one of {', '.join(L2_REDUCTIONS)}, "
                     f"got {reduction!r}")


def build_energy_loss(cfg):
    """The ENERGY_LOSSES entry named by ENERGY_MODEL.LOSS with ENERGY_MODEL.TEMP (and MARGIN)."""
    entry = ENERGY_LOSSES.get(cfg.ENERGY_MODEL.LOSS)
    options = {"temperature": cfg.ENERGY_MODEL.TEMP}
    if getattr(entry, "uses_distance", False):
        options["margin"] = cfg.ENERGY_MODEL.MARGIN
    return entry(**options)
