"""Discrete sampler "GibbsWithGradients" (Grathwohl et al. 2021, "Oops I took a gradient").

States are one-hot label rows, possibly with the data noise the graph builder added. The
sampler targets p(G) proportional to exp(-E(G) / T) (T = SAMPLER.PROPOSAL_TEMPERATURE) over
the labellings of the free rows and runs SAMPLER.ITERS Metropolis-Hastings steps. One step,
for every image of the batch at once:

1. ``d[r, b] = dE/dx[r, b] - dE/dx[r, y_r]``: the first-order energy change of flipping row r
   (an edge, or a node when ``free_nodes``) from its label ``y_r`` to ``b``, from one backward
   pass of the batch's summed energy;
2. propose one flip per image with probability softmax(-d / (2 T)) over all of that image's
   flips (the label a row already has is excluded);
3. evaluate the exact energies of the proposals (all images in one forward pass, with their
   gradients for the next step) and accept image i's flip with probability
   ``min(1, exp(-(E'_i - E_i) / T) q(reverse flip | G'_i) / q(flip | G_i))``.

Flips are constants added to the initial states: a row is always ``x0 + onehot(y) -
onehot(y0)``, i.e. exactly one-hot plus the original noise, so sampled rows have the row
statistics of the positives. Each step costs one energy forward and backward pass of the batch
(plus one at the start); at most ITERS labels per image change.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from maskrcnn_benchmark.modeling.registry import ENERGY_SAMPLERS
from maskrcnn_benchmark.structures.scene_graph import SceneGraph

from .sampler_protocol import EnergyFn, GradMode, grad_mode_from_name

__all__ = ["GibbsWithGradients", "ONE_HOT_TOLERANCE"]

# A free state row may differ from the one-hot of its argmax by at most this much per entry
# (the data noise is ~1e-4); min-max normalised logits are rejected.
ONE_HOT_TOLERANCE = 0.25


@dataclass
class _Chain:
    """Per free state tensor: labels, and per image: energy; per row: energy gradient."""

    labels: dict[str, Tensor]
    energy: Tensor
    grads: dict[str, Tensor]


@ENERGY_SAMPLERS.register("GibbsWithGradients")
@dataclass(frozen=True)
class GibbsWithGradients:
    """Gradient-informed Metropolis-Hastings label flips on one-hot states (module docstring).

    Gradient modes: ``REFERENCE`` / ``DESCEND``: the returned states are the initial states
    plus constant flips, so a loss on them reaches the initial states with gradient identity
    (e.g. straight-through one-hot states of the head's distribution); ``DETACH``: constants.
    ``UNROLL`` has no meaning for discrete flips and is refused at construction. Reads
    SAMPLER.ITERS, SAMPLER.PROPOSAL_TEMPERATURE and SAMPLER.GRAD_MODE (not LR, VAR, GRAD_CLIP).
    """

    num_steps: int
    temperature: float
    grad_mode: GradMode

    def __post_init__(self) -> None:
        if self.grad_mode is GradMode.UNROLL:
            raise ValueError(
                "SAMPLER.GRAD_MODE 'unroll' is not meaningful with SAMPLER.NAME "
                "'GibbsWithGradients': a discrete label flip has no derivative to unroll; use "
                "'reference', 'detach' or 'descend', or SAMPLER.NAME 'SGLD'")
        if self.num_steps < 0 or not self.temperature > 0:
            raise ValueError(
                "GibbsWithGradients needs SAMPLER.ITERS >= 0 and SAMPLER.PROPOSAL_TEMPERATURE "
                f"> 0; got {self.num_steps} and {self.temperature}")

    @classmethod
    def from_config(cls, cfg) -> GibbsWithGradients:
        """Build from SAMPLER.ITERS, SAMPLER.PROPOSAL_TEMPERATURE and SAMPLER.GRAD_MODE."""
        return cls(num_steps=cfg.SAMPLER.ITERS, temperature=cfg.SAMPLER.PROPOSAL_TEMPERATURE,
                   grad_mode=grad_mode_from_name(cfg.SAMPLER.GRAD_MODE))

    def __call__(self, energy_fn: EnergyFn, graph: SceneGraph, free_nodes: bool) -> SceneGraph:
        """``num_steps`` MH steps from ``graph``; edges always move, nodes iff ``free_nodes``."""
        names = ("node_states", "edge_states") if free_nodes else ("edge_states",)
        initial = {name: _at_least_float32(getattr(graph, name)) for name in names}
        start = {name: _labels_of_one_hot(name, states) for name, states in initial.items()}
        batch = {"node_states": graph.node_batch, "edge_states": graph.edge_batch}
        with torch.enable_grad(), torch.autocast(graph.edge_states.device.type, enabled=False):
            base = {name: states.detach() for name, states in initial.items()}
            chain = self._evaluate(energy_fn, graph, base, start, start)
            for _ in range(self.num_steps):
                chain = self._step(energy_fn, graph, base, start, chain, batch)
        flips = {name: _one_hot_like(chain.labels[name], initial[name])
                 - _one_hot_like(start[name], initial[name]) for name in names}
        states = {name: initial[name] + flips[name] for name in names}
        if self.grad_mode is GradMode.DETACH:
            states = {name: state.detach() for name, state in states.items()}
        return graph.with_states(**states)

    def _evaluate(self, energy_fn: EnergyFn, graph: SceneGraph, base: dict[str, Tensor],
                  start: dict[str, Tensor], labels: dict[str, Tensor]) -> _Chain:
        """Exact energies [B] and dE/dstates of the labelling ``labels`` (one fwd + bwd)."""
        inputs = {name: (base[name] + _one_hot_like(labels[name], base[name])
                         - _one_hot_like(start[name], base[name])).requires_grad_(True)
                  for name in base}
        energy = energy_fn(graph.with_states(**inputs))
        if tuple(energy.shape) != (graph.num_graphs,):
            raise ValueError(f"GibbsWithGradients: the energy function returned shape "
                             f"{tuple(energy.shape)}, expected one energy per image "
                             f"({graph.num_graphs},)")
        grads = torch.autograd.grad(energy.sum(), list(inputs.values()), allow_unused=True)
        grads = {name: torch.zeros_like(inputs[name]) if grad is None else grad.detach()
                 for name, grad in zip(inputs, grads)}
        return _Chain(labels=labels, energy=energy.detach().float(), grads=grads)

    def _proposal_logits(self, chain: _Chain) -> dict[str, Tensor]:
        """-d / (2 T) for every (row, label) flip; -inf for a row's own label."""
        logits = {}
        for name, grad in chain.grads.items():
            own = chain.labels[name][:, None]
            delta = grad.float() - grad.float().gather(1, own)
            logits[name] = (-delta / (2.0 * self.temperature)).scatter(1, own, float("-inf"))
        return logits

    def _step(self, energy_fn: EnergyFn, graph: SceneGraph, base: dict[str, Tensor],
              start: dict[str, Tensor], chain: _Chain, batch: dict[str, Tensor]) -> _Chain:
        num_graphs = graph.num_graphs
        flat, image, blocks = _flatten(self._proposal_logits(chain), batch)
        if flat.numel() == 0:
            return chain
        log_norm = _segment_logsumexp(flat, image, num_graphs)
        choice, has_flip = _segment_gumbel_argmax(flat, image, num_graphs)
        picked = choice.clamp(max=flat.numel() - 1)
        log_forward = flat[picked] - log_norm

        proposed_labels, reverse = {}, torch.zeros_like(choice)
        for name, (offset, rows, width) in blocks.items():
            inside = has_flip & (choice >= offset) & (choice < offset + rows * width)
            local = (choice - offset)[inside]
            row, label = local // width, local % width
            labels = chain.labels[name].clone()
            old = labels[row]
            labels[row] = label
            proposed_labels[name] = labels
            reverse[inside] = offset + row * width + old
        proposed = self._evaluate(energy_fn, graph, base, start, proposed_labels)
        flat_new, _, _ = _flatten(self._proposal_logits(proposed), batch)
        log_reverse = flat_new[reverse] - _segment_logsumexp(flat_new, image, num_graphs)
        log_accept = (-(proposed.energy - chain.energy) / self.temperature
                      + log_reverse - log_forward)
        uniform = torch.rand(num_graphs, device=flat.device)
        accept = has_flip & (torch.log(uniform) < log_accept)

        labels, grads = {}, {}
        for name in chain.labels:
            moved = accept[batch[name]]
            labels[name] = torch.where(moved, proposed.labels[name], chain.labels[name])
            grads[name] = torch.where(moved[:, None], proposed.grads[name], chain.grads[name])
        energy = torch.where(accept, proposed.energy, chain.energy)
        return _Chain(labels=labels, energy=energy, grads=grads)


def _flatten(logits: dict[str, Tensor], batch: dict[str, Tensor]
             ) -> tuple[Tensor, Tensor, dict[str, tuple[int, int, int]]]:
    """All flips in one vector, their image ids, and per name (offset, rows, width)."""
    flats, images, blocks, offset = [], [], {}, 0
    for name, values in logits.items():
        rows, width = values.shape
        flats.append(values.reshape(-1))
        images.append(batch[name].repeat_interleave(width))
        blocks[name] = (offset, rows, width)
        offset += rows * width
    return torch.cat(flats), torch.cat(images), blocks


def _segment_max(values: Tensor, segment: Tensor, num_segments: int) -> Tensor:
    out = torch.full((num_segments,), float("-inf"), dtype=values.dtype, device=values.device)
    return out.scatter_reduce(0, segment, values, "amax", include_self=True)


def _segment_logsumexp(values: Tensor, segment: Tensor, num_segments: int) -> Tensor:
    """log sum exp of ``values`` per segment; -inf for a segment without finite values."""
    peak = _segment_max(values, segment, num_segments)
    safe = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    total = torch.zeros_like(safe).index_add(0, segment, torch.exp(values - safe[segment]))
    return safe + torch.log(total)


def _segment_gumbel_argmax(logits: Tensor, segment: Tensor, num_segments: int
                           ) -> tuple[Tensor, Tensor]:
    """One index per segment drawn from softmax(logits) of that segment (Gumbel-max), and
    whether the segment had any finite logit."""
    uniform = torch.rand_like(logits).clamp(1e-12, 1.0 - 1e-7)
    keys = logits - torch.log(-torch.log(uniform))
    best = _segment_max(keys, segment, num_segments)
    count = logits.numel()
    position = torch.arange(count, device=logits.device)
    hit = (keys == best[segment]) & torch.isfinite(keys)
    candidates = torch.where(hit, position, torch.full_like(position, count))
    choice = torch.full((num_segments,), count, dtype=torch.long, device=logits.device)
    choice = choice.scatter_reduce(0, segment, candidates, "amin", include_self=True)
    return choice, choice < count


def _labels_of_one_hot(name: str, states: Tensor) -> Tensor:
    """Argmax of every row; an error if a row is not one-hot up to ONE_HOT_TOLERANCE."""
    if states.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=states.device)
    detached = states.detach()
    labels = detached.argmax(dim=1)
    residual = float((detached - _one_hot_like(labels, detached)).abs().max())
    if not residual <= ONE_HOT_TOLERANCE:
        raise ValueError(
            f"GibbsWithGradients flips labels of one-hot states, but the graph's {name} rows "
            f"are up to {residual:.3g} away from a one-hot (tolerance {ONE_HOT_TOLERANCE}): "
            "build the negative graph from one-hot states (ENERGY_MODEL.NEGATIVE_STATES "
            "'sample'), or use SAMPLER.NAME 'SGLD' for continuous states")
    return labels


def _one_hot_like(labels: Tensor, like: Tensor) -> Tensor:
    return F.one_hot(labels, like.shape[1]).to(like.dtype)


def _at_least_float32(tensor: Tensor) -> Tensor:
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))
