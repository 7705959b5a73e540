"""Test-time energy refinement (TEST.ENERGY_REFINE): the sampler run from the prediction.

With SGLD the refined states are mapped back to logits by inverting each row's min-max
normalisation with the row's *original* minimum and range: ``logit' = min + state' * (max -
min)``. With zero sampler steps this returns the original logits exactly, so the relation
post-processor's softmax and triplet ranking see the base model's scale and only the
sampler's changes. (Feeding the [0, 1] states themselves to the softmax, as the EBM code's
dead path would, flattens every predicate distribution to at most e/(e+R-1) and reorders
triplets by object scores.)

With the discrete sampler (SAMPLER.NAME "GibbsWithGradients") the chain starts from the
one-hot argmax of every row (all classes, background included; no noise) and a row whose label
changed gets the logits of its new and old label exchanged (``swap_to_labels``, as the
energy-guided decoder does), so the post-processor ranks by the sampled labels.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.structures.scene_graph import SceneGraph, SGGTask

from .energy_decode import swap_to_labels
from .gibbs_sampler import GibbsWithGradients
from .graph_builder import RelationHeadOutputLike, build_predicted_graph
from .normalization import denormalize
from .sampler_protocol import EnergySampler
from .samplers import GradMode, build_sampler

__all__ = ["EnergyRefiner", "build_energy_refiner"]

OutputT = TypeVar("OutputT", bound=RelationHeadOutputLike)


class EnergyRefiner:
    """Replaces relation logits (and object logits unless PredCls) by energy-refined ones."""

    def __init__(self, *, task: SGGTask, sampler: EnergySampler, num_obj_classes: int) -> None:
        # The refined graph is never differentiated: sample in DETACH mode.
        self.task = task
        self.sampler = dataclasses.replace(sampler, grad_mode=GradMode.DETACH)
        self.num_obj_classes = num_obj_classes

    def __call__(self, energy_model: nn.Module, output: OutputT) -> OutputT:
        """A copy of the (eval-mode) head output with refined logits; parameters get no grad."""
        discrete = isinstance(self.sampler, GibbsWithGradients)
        with torch.no_grad():
            graph = build_predicted_graph(
                output, self.task, num_obj_classes=self.num_obj_classes, noise_std=0.0,
                with_image_graph=energy_model.use_image_graph).detach()
            if discrete:
                graph = graph.with_states(**_argmax_one_hots(graph, output, self.task))
            image_embedding = energy_model.image_embedding(graph)
        refined = self.sampler(lambda g: energy_model(g, image_embedding), graph,
                               self.task.free_nodes)
        to_logits = _swap_to_sampled if discrete else _denormalize
        changes = {"relation_logits": to_logits(refined.edge_states, output.relation_logits)}
        if self.task.free_nodes:
            changes["refine_logits"] = to_logits(refined.node_states, output.refine_logits)
        return dataclasses.replace(output, **changes)


def _argmax_one_hots(graph: SceneGraph, output: RelationHeadOutputLike,
                     task: SGGTask) -> dict[str, Tensor]:
    """One-hot argmax states of the rows the sampler moves (edges; nodes unless PredCls)."""
    states = {"edge_states": _one_hot_argmax(output.relation_logits, graph.edge_states)}
    if task.free_nodes:
        states["node_states"] = _one_hot_argmax(output.refine_logits, graph.node_states)
    return states


def _one_hot_argmax(logits: list[Tensor], like: Tensor) -> Tensor:
    labels = torch.cat([rows.detach().float() for rows in logits]).argmax(dim=1)
    return F.one_hot(labels.to(like.device), like.shape[1]).to(like.dtype)


def _denormalize(states: Tensor, logits: list[Tensor]) -> list[Tensor]:
    """Refined [0, 1] states back on each original row's logit scale."""
    counts = [rows.shape[0] for rows in logits]
    return [denormalize(part, rows.float()).to(rows.dtype)
            for part, rows in zip(states.detach().split(counts), logits)]


def _swap_to_sampled(states: Tensor, logits: list[Tensor]) -> list[Tensor]:
    """Original logits with the sampled label's and the argmax label's columns exchanged."""
    counts = [rows.shape[0] for rows in logits]
    return [swap_to_labels(rows.detach(), rows.detach().float().argmax(dim=1),
                           part.argmax(dim=1))
            for part, rows in zip(states.detach().split(counts), logits)]


def build_energy_refiner(cfg, num_obj_classes: int) -> EnergyRefiner | None:
    """The refiner if TEST.ENERGY_REFINE is on (it needs MODEL.ENERGY_ON), else None."""
    if not cfg.TEST.ENERGY_REFINE:
        return None
    if not cfg.MODEL.ENERGY_ON:
        raise ValueError("TEST.ENERGY_REFINE needs the energy model: set MODEL.ENERGY_ON True "
                         "and load a checkpoint trained with it")
    head = cfg.MODEL.ROI_RELATION_HEAD
    return EnergyRefiner(task=SGGTask.from_flags(head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL),
                         sampler=build_sampler(cfg), num_obj_classes=num_obj_classes)
