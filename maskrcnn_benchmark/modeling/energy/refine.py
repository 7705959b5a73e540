"""Test-time energy refinement (TEST.ENERGY_REFINE): SGLD from the prediction at inference.

The refined states are mapped back to logits by inverting each row's min-max normalisation
with the row's *original* minimum and range: ``logit' = min + state' * (max - min)``. With zero
sampler steps this returns the original logits exactly, so the relation post-processor's
softmax and triplet ranking see the base model's scale and only the sampler's changes. (Feeding
the [0, 1] states themselves to the softmax, as the EBM code's dead path would, flattens every
predicate distribution to at most e/(e+R-1) and reorders triplets by object scores.)
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import torch
from torch import nn

from maskrcnn_benchmark.structures.scene_graph import SGGTask

from .graph_builder import RelationHeadOutputLike, build_predicted_graph
from .normalization import denormalize
from .samplers import GradMode, build_sampler

__all__ = ["EnergyRefiner", "build_energy_refiner"]

OutputT = TypeVar("OutputT", bound=RelationHeadOutputLike)


class EnergyRefiner:
    """Replaces relation logits (and object logits unless PredCls) by energy-refined ones."""

    def __init__(self, *, task: SGGTask, sampler, num_obj_classes: int) -> None:
        # The refined graph is never differentiated: sample in DETACH mode.
        self.task = task
        self.sampler = dataclasses.replace(sampler, grad_mode=GradMode.DETACH)
        self.num_obj_classes = num_obj_classes

    def __call__(self, energy_model: nn.Module, output: OutputT) -> OutputT:
        """A copy of the (eval-mode) head output with refined logits; parameters get no grad."""
        with torch.no_grad():
            graph = build_predicted_graph(
                output, self.task, num_obj_classes=self.num_obj_classes, noise_std=0.0,
                with_image_graph=energy_model.use_image_graph).detach()
            image_embedding = energy_model.image_embedding(graph)
        refined = self.sampler(lambda g: energy_model(g, image_embedding), graph,
                               self.task.free_nodes)
        edge_counts = [logits.shape[0] for logits in output.relation_logits]
        relation_logits = [
            denormalize(states, logits.float()).to(logits.dtype)
            for states, logits in zip(refined.edge_states.detach().split(edge_counts),
                                      output.relation_logits)]
        changes = {"relation_logits": relation_logits}
        if self.task.free_nodes:
            node_counts = [logits.shape[0] for logits in output.refine_logits]
            changes["refine_logits"] = [
                denormalize(states, logits.float()).to(logits.dtype)
                for states, logits in zip(refined.node_states.detach().split(node_counts),
                                          output.refine_logits)]
        return dataclasses.replace(output, **changes)


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
