"""Samplers that move scene-graph states towards low energy (EBM paper Eq. 3).

Every ENERGY_SAMPLERS entry satisfies the ``EnergySampler`` protocol (``sampler_protocol.py``):
a pure function of (energy function, initial graph, free_nodes) -> final graph. This module
holds the continuous sampler ``SGLD`` and ``build_sampler``; the discrete
``GibbsWithGradients`` lives in ``gibbs_sampler.py`` and is registered on import here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from maskrcnn_benchmark.modeling.registry import ENERGY_SAMPLERS
from maskrcnn_benchmark.structures.scene_graph import SceneGraph

from .gibbs_sampler import GibbsWithGradients
from .normalization import minmax_normalize
from .sampler_protocol import EnergyFn, EnergySampler, GradMode, grad_mode_from_name

__all__ = ["EnergyFn", "EnergySampler", "GibbsWithGradients", "GradMode", "SGLD",
           "build_sampler"]


@ENERGY_SAMPLERS.register("SGLD")
@dataclass(frozen=True)
class SGLD:
    """Stochastic gradient Langevin dynamics on the free node / edge states.

    One step, per free state tensor x: ``x <- x + eps`` with ``eps ~ N(0, noise_std^2)``,
    ``g = clamp(dE/dx, -grad_clip, grad_clip)``, ``x <- minmax_normalize(x - step_size * g)``.
    ``step_size`` is the whole step (the EBM code has no 1/2 factor of Eq. 3). Energies and
    gradients are computed in float32 with autocast disabled, so clipping at 0.01 is exact
    under mixed precision. A frozen dataclass: ``dataclasses.replace(sampler, grad_mode=...)``
    derives a variant (the test-time refiner uses DETACH).
    """

    step_size: float
    noise_std: float
    grad_clip: float
    num_steps: int
    grad_mode: GradMode

    def __post_init__(self) -> None:
        if self.num_steps < 0 or self.step_size < 0 or self.noise_std < 0 or self.grad_clip <= 0:
            raise ValueError(
                "SGLD needs SAMPLER.ITERS >= 0, SAMPLER.LR >= 0, SAMPLER.VAR >= 0 and "
                f"SAMPLER.GRAD_CLIP > 0; got {self.num_steps}, {self.step_size}, "
                f"{self.noise_std}, {self.grad_clip}")

    @classmethod
    def from_config(cls, cfg) -> SGLD:
        """Build from SAMPLER.*."""
        return cls(step_size=cfg.SAMPLER.LR, noise_std=cfg.SAMPLER.VAR,
                   grad_clip=cfg.SAMPLER.GRAD_CLIP, num_steps=cfg.SAMPLER.ITERS,
                   grad_mode=grad_mode_from_name(cfg.SAMPLER.GRAD_MODE))

    def __call__(self, energy_fn: EnergyFn, graph: SceneGraph, free_nodes: bool) -> SceneGraph:
        """Run ``num_steps`` steps from ``graph``; edges always move, nodes iff ``free_nodes``.

        ``energy_fn(graph)`` returns [B] energies; their sum is differentiated, so each image's
        states follow the gradient of that image's energy.
        """
        names = ("node_states", "edge_states") if free_nodes else ("edge_states",)
        # Half-precision states are promoted so that clipped gradient steps of 0.01 are exact.
        states = {name: _at_least_float32(getattr(graph, name)) for name in names}
        with torch.enable_grad(), torch.autocast(graph.edge_states.device.type, enabled=False):
            for _ in range(self.num_steps):
                states = self._step(energy_fn, graph, states)
        if self.grad_mode is GradMode.DETACH:
            states = {name: state.detach() for name, state in states.items()}
        return graph.with_states(**states)

    def _step(self, energy_fn: EnergyFn, graph: SceneGraph,
              states: dict[str, Tensor]) -> dict[str, Tensor]:
        noisy = {name: state + self.noise_std * torch.randn_like(state) if self.noise_std else state
                 for name, state in states.items()}
        unroll = self.grad_mode is GradMode.UNROLL
        if unroll:
            # Differentiate through the noisy state itself (a fresh leaf if it has no history).
            inputs = {name: x if x.requires_grad else x.detach().requires_grad_(True)
                      for name, x in noisy.items()}
        else:
            # The energy gradient is a constant: take it on a detached copy.
            inputs = {name: x.detach().requires_grad_(True) for name, x in noisy.items()}
        energy = energy_fn(graph.with_states(**inputs)).sum()
        grads = torch.autograd.grad(energy, list(inputs.values()), create_graph=unroll,
                                    allow_unused=True)
        moved = {}
        for (name, x), grad in zip(inputs.items(), grads):
            base = x if unroll else noisy[name]
            if grad is None:  # the energy does not depend on this tensor (e.g. no edges)
                grad = torch.zeros_like(x)
            moved[name] = minmax_normalize(
                base - self.step_size * grad.clamp(-self.grad_clip, self.grad_clip))
        return moved


def _at_least_float32(tensor: Tensor) -> Tensor:
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


def build_sampler(cfg) -> EnergySampler:
    """The ENERGY_SAMPLERS entry named by SAMPLER.NAME, built from SAMPLER.*."""
    return ENERGY_SAMPLERS.get(cfg.SAMPLER.NAME).from_config(cfg)
