"""The sampler contract: what every ENERGY_SAMPLERS entry is, and the gradient modes.

``EnergySampler`` is a ``typing.Protocol``; ``SGLD`` (``samplers.py``) and
``GibbsWithGradients`` (``gibbs_sampler.py``) satisfy it, and a test checks every registry
entry against it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from torch import Tensor

from maskrcnn_benchmark.structures.scene_graph import SceneGraph

__all__ = ["EnergyFn", "EnergySampler", "GradMode", "grad_mode_from_name"]

# ``energy_fn(graph) -> [B]``: one energy per image of the batched graph.
EnergyFn = Callable[[SceneGraph], Tensor]


class GradMode(enum.Enum):
    """How gradients of a loss on the sampled graph reach the initial states (SAMPLER.GRAD_MODE).

    ``REFERENCE`` (EBM code): each step's move is a constant added to the state; the gradient
    flows back to the initial prediction (through SGLD's chain of min-max normalisations; for
    a discrete sampler, unchanged, since a flip is a constant). ``UNROLL``: the whole chain is
    differentiated, including how each step's energy gradient depends on the state and on the
    energy model's parameters (second order; SGLD only). ``DETACH``: the sampled graph is a
    constant; nothing flows back through the states. ``DESCEND``: the sampler behaves as
    ``REFERENCE``, but the energy objective trains the energy model on a detached copy of the
    sampled graph and lets the relation model *lower* the energy of its sampled prediction
    (a generator-style signal), instead of raising it through the contrastive loss.
    """

    REFERENCE = "reference"
    UNROLL = "unroll"
    DETACH = "detach"
    DESCEND = "descend"


@runtime_checkable
class EnergySampler(Protocol):
    """A sampler ``sampler(energy_fn, graph, free_nodes) -> graph`` (ENERGY_SAMPLERS entry).

    Contract:

    - **Pure function.** It returns a new ``SceneGraph`` (``graph.with_states``) and never
      writes into a tensor it was given (no in-place ops, no ``.data``), never switches a
      module's train/eval mode, and asks autograd only for gradients with respect to the
      states (``torch.autograd.grad``), so no parameter's ``.grad`` is touched. Randomness
      comes from torch's global generator: runs are reproducible under ``torch.manual_seed``.
    - **Which states move.** Edge (predicate) states always; node (object) states iff
      ``free_nodes`` (SGCls / SGDet). Structure, positions and image-graph features are
      returned as they came; in PredCls ``node_states`` is returned as the same object.
    - **Energy.** ``energy_fn(graph)`` returns [B] energies, one per image; images never
      interact (a sampler may batch all images into one forward pass and differentiate the
      sum). Autocast is disabled inside the sampler and states are at least float32.
    - **Gradient mode.** ``grad_mode`` (a ``GradMode``) says how a loss on the returned states
      reaches the initial states. A sampler is a frozen dataclass: a variant is derived with
      ``dataclasses.replace(sampler, grad_mode=GradMode.DETACH)`` (the test-time refiner does
      this), never by mutation; a sampler that cannot honour a mode raises at construction.
    - **Not the training target.** The sampler only produces the negative graph. What the
      relation model is trained towards (raise E-, lower it as in ``DESCEND``, or nothing) is
      decided by the energy objective (``objective.py``), which reads ``grad_mode``.
    - ``from_config(cfg)`` builds the sampler from ``SAMPLER.*``.
    """

    grad_mode: GradMode

    def __call__(self, energy_fn: EnergyFn, graph: SceneGraph, free_nodes: bool) -> SceneGraph:
        """The sampled graph, started from ``graph``."""
        ...

    @classmethod
    def from_config(cls, cfg) -> EnergySampler:
        """Build from SAMPLER.*."""
        ...


def grad_mode_from_name(name: str) -> GradMode:
    """The GradMode named by SAMPLER.GRAD_MODE (one clear error for an unknown name)."""
    try:
        return GradMode(name)
    except ValueError:
        known = [mode.value for mode in GradMode]
        raise ValueError(f"SAMPLER.GRAD_MODE must be one of {known}, got {name!r}") from None
