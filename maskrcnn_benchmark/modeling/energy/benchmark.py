"""Peak memory of one energy training step on synthetic all-pairs graphs (benchmark_energy.py).

One step = the predicted graph built from relation logits that require grad, a full sampler
run, E+ on a GT graph and E- on the sampled graph, the energy loss plus the L2 term, and the
backward pass. Peak memory is what the step adds on top of what existed before it:

- CUDA: ``torch.cuda.max_memory_allocated`` minus the allocated bytes before the step (exact
  for tensors; the caching allocator's reserve is not counted);
- CPU: peak resident set size (``getrusage`` maximum RSS) minus the RSS before the step. This
  is only meaningful once per fresh process, so the tool runs each CPU measurement in its own
  subprocess, with glibc's mmap threshold fixed at 64 KiB so that freed tensor buffers leave
  the resident set (with glibc's dynamic threshold, freed buffers of a few MB stay resident
  and the figure over-counts by up to ~40%).

With ``grad_ratio`` the step also has a task loss (cross-entropy of the relation logits against
random labels) and, before the backward pass, measures ``energy/grad_ratio`` as the energy
objective does (``relation_gradient_norms``); its wall time is reported on its own.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.structures.scene_graph import BOX_INFO_DIM, SceneGraph

from .gradient_stats import relation_gradient_norms
from .losses import energy_l2_regularizer
from .normalization import minmax_normalize

__all__ = ["EnergyStepMeasurement", "synthetic_graphs", "measure_energy_step"]


@dataclass
class EnergyStepMeasurement:
    """One row of the benchmark table."""

    batch_size: int
    num_nodes: int
    num_edges: int
    peak_bytes: int
    seconds: float
    grad_ratio_seconds: float | None = None  # the grad-ratio measurement alone, if made


def synthetic_graphs(batch_size: int, boxes_per_image: int, gt_relations_per_image: int, *,
                     num_obj_classes: int, num_rel_classes: int, roi_feature_dim: int,
                     device: torch.device) -> tuple[Tensor, Tensor, SceneGraph, SceneGraph]:
    """(relation logits, object logits, predicted graph template, GT graph) on all ordered pairs.

    The logits are leaves that require grad (standing in for the relation model's output);
    the template's states are replaced from them inside the measured step.
    """
    idx = torch.arange(boxes_per_image, device=device)
    pairs = torch.cartesian_prod(idx, idx)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    n, p = boxes_per_image, pairs.shape[0]
    positions = [torch.rand(n, BOX_INFO_DIM, device=device) for _ in range(batch_size)]
    features = torch.randn(batch_size * n, roi_feature_dim, device=device, requires_grad=True)
    predicted = SceneGraph.from_images(
        node_states=[torch.rand(n, num_obj_classes, device=device)] * batch_size,
        edge_states=[torch.rand(p, num_rel_classes, device=device)] * batch_size,
        pair_idxs=[pairs] * batch_size, node_positions=positions, image_node_features=features)
    gt_pairs = pairs[torch.randperm(p, device=device)[:gt_relations_per_image]]
    eye_obj = torch.eye(num_obj_classes, device=device)
    eye_rel = torch.eye(num_rel_classes, device=device)
    gt = SceneGraph.from_images(
        node_states=[eye_obj[torch.randint(1, num_obj_classes, (n,), device=device)]
                     for _ in range(batch_size)],
        edge_states=[eye_rel[torch.randint(1, num_rel_classes, (gt_pairs.shape[0],),
                                           device=device)] for _ in range(batch_size)],
        pair_idxs=[gt_pairs] * batch_size, node_positions=positions,
        image_node_features=features)
    relation_logits = torch.randn(batch_size * p, num_rel_classes, device=device,
                                  requires_grad=True)
    object_logits = torch.randn(batch_size * n, num_obj_classes, device=device,
                                requires_grad=True)
    return relation_logits, object_logits, predicted, gt


def _energy_step(model: nn.Module, sampler, energy_loss, relation_logits: Tensor,
                 object_logits: Tensor, predicted: SceneGraph, gt: SceneGraph,
                 grad_ratio: bool = False) -> float | None:
    """One step; with ``grad_ratio`` returns the seconds spent measuring the gradient ratio."""
    start = predicted.with_states(node_states=minmax_normalize(object_logits),
                                  edge_states=minmax_normalize(relation_logits))
    image_embedding = model.image_embedding(start)
    sampled = sampler(lambda graph: model(graph, image_embedding), start, True)
    positive, negative = model(gt), model(sampled, image_embedding)
    loss = energy_loss(positive, negative) + energy_l2_regularizer(positive, negative)
    if not grad_ratio:
        loss.backward()
        return None
    labels = torch.randint(relation_logits.shape[1], (relation_logits.shape[0],),
                           device=relation_logits.device)
    task = F.cross_entropy(relation_logits, labels)
    _sync(relation_logits.device)
    started = time.perf_counter()
    relation_gradient_norms(loss, task, [relation_logits])
    _sync(relation_logits.device)
    seconds = time.perf_counter() - started
    (loss + task).backward()
    return seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        raise RuntimeError("CPU memory measurement reads /proc/self/statm (Linux only); "
                           "use --device cuda elsewhere") from None


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure_energy_step(model: nn.Module, sampler, energy_loss, batch_size: int,
                        boxes_per_image: int, gt_relations_per_image: int, *,
                        num_obj_classes: int, num_rel_classes: int, roi_feature_dim: int,
                        device: torch.device, grad_ratio: bool = False
                        ) -> EnergyStepMeasurement:
    """Peak memory and wall time of one energy step for ``batch_size`` images.

    A step on one image with 4 boxes runs first, so that lazy library initialisation and
    first-use buffers are not counted.
    """
    sizes = dict(num_obj_classes=num_obj_classes, num_rel_classes=num_rel_classes,
                 roi_feature_dim=roi_feature_dim, device=device)
    _energy_step(model, sampler, energy_loss, *synthetic_graphs(1, 4, 2, **sizes),
                 grad_ratio=grad_ratio)
    relation_logits, object_logits, predicted, gt = synthetic_graphs(
        batch_size, boxes_per_image, gt_relations_per_image, **sizes)
    model.zero_grad(set_to_none=False)  # parameter gradients (from the warm-up) are kept
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        before = _current_rss_bytes()
    started = time.perf_counter()
    ratio_seconds = _energy_step(model, sampler, energy_loss, relation_logits, object_logits,
                                 predicted, gt, grad_ratio=grad_ratio)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
    else:
        peak = _peak_rss_bytes() - before
    return EnergyStepMeasurement(batch_size=batch_size, num_nodes=predicted.num_nodes,
                                 num_edges=predicted.num_edges, peak_bytes=peak,
                                 seconds=time.perf_counter() - started,
                                 grad_ratio_seconds=ratio_seconds)
