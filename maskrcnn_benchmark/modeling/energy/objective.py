"""EnergyObjective: the energy loss plugin over the relation head's output (Eq. 2, 4, 5).

Per training step: build the GT and the predicted scene graphs, move the predicted one
towards low energy with the sampler, evaluate E+ (GT) and E- (sampled) and return

    loss_<task> = lambda_t * task loss          (every relation head loss, rescaled)
    loss_energy = lambda_e * L_e(E+, E-)        (ENERGY_MODEL.LOSS, e.g. Eq. 2)
    loss_energy_l2 = lambda_r * mean(E+^2 + E-^2)   (Eq. 4)

so that the sum of the returned dict is Eq. 5. Logging values go to the training loop's event
storage (``get_event_storage``), never into the loss dict: ``energy/positive`` and
``energy/negative`` (mean E+ and E- of the batch), ``energy/skipped_steps`` (running count),
``energy/grad_factor`` (mean over images of B * d(loss_energy + loss_energy_l2)/dE-_b, the factor
in front of dE-/dphi in the relation model's gradient; -lambda_e T + 2 lambda_r E- for Eq. 2)
and, every ``grad_ratio_period`` iterations, ``energy/grad_ratio`` (norm of the energy losses'
gradient on the relation logits over that of the task losses; see ``gradient_stats.py``).

If any energy is non-finite the energy terms are replaced by zeros that are still connected to
every energy-model parameter (all ranks run the same backward, so DDP stays in sync, and the
parameters get zero gradients), a warning is logged and ``num_skipped`` counts the event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SceneGraph, SGGTask
from maskrcnn_benchmark.utils.events import get_event_storage

from .gradient_stats import negative_energy_grad_factor, relation_gradient_norms
from .graph_builder import (
    RelationHeadOutputLike,
    build_gt_graph,
    build_matched_gt_graph,
    build_predicted_graph,
    gt_image_features,
)
from .losses import build_energy_loss, energy_l2_regularizer
from .samplers import GradMode, build_sampler

logger = logging.getLogger(__name__)

__all__ = ["POSITIVE_GRAPHS", "EnergyGraphs", "EnergyObjective", "build_energy_objective"]

# How the positive (ground-truth) graph is built: "gt" = GT boxes and GT relations only (the
# EBM code), "matched" = the predicted graph's nodes and pairs with GT states.
POSITIVE_GRAPHS = ("gt", "matched")


@dataclass(frozen=True)
class EnergyGraphs:
    """The graphs of one training step: G+, G0, the sampled G- and G0's pooled image graph."""

    positive: SceneGraph
    predicted: SceneGraph
    sampled: SceneGraph
    image_embedding: Tensor | None


class EnergyObjective:
    """Turns (energy model, relation head output, targets, task losses) into Eq. 5's terms."""

    def __init__(self, *, task: SGGTask, sampler, energy_loss, num_obj_classes: int,
                 num_rel_classes: int, data_noise_std: float, loss_weight: float,
                 l2_weight: float, task_loss_weight: float,
                 positive_graph: str = "gt", grad_ratio_period: int = 0) -> None:
        if positive_graph not in POSITIVE_GRAPHS:
            raise ValueError(f"ENERGY_MODEL.POSITIVE_GRAPH is {positive_graph!r}; use one of "
                             f"{', '.join(POSITIVE_GRAPHS)}")
        self.positive_graph = positive_graph
        self.task = task
        self.sampler = sampler
        self.energy_loss = energy_loss
        self.num_obj_classes = num_obj_classes
        self.num_rel_classes = num_rel_classes
        self.data_noise_std = data_noise_std
        self.loss_weight = loss_weight
        self.l2_weight = l2_weight
        self.task_loss_weight = task_loss_weight
        self.grad_ratio_period = grad_ratio_period
        self.num_skipped = 0

    def graphs(self, energy_model: nn.Module, output: RelationHeadOutputLike,
               targets: Sequence[BoxList]) -> EnergyGraphs:
        """G+ (POSITIVE_GRAPH), G0 from the head's output and G- from the sampler, as trained."""
        with_image_graph = energy_model.use_image_graph
        if self.positive_graph == "matched":
            gt_graph = build_matched_gt_graph(
                output, num_obj_classes=self.num_obj_classes,
                num_rel_classes=self.num_rel_classes, noise_std=self.data_noise_std,
                with_image_graph=with_image_graph)
        else:
            gt_graph = build_gt_graph(
                targets,
                gt_image_features(output, self.task, targets) if with_image_graph else None,
                num_obj_classes=self.num_obj_classes, num_rel_classes=self.num_rel_classes,
                noise_std=self.data_noise_std)
        predicted = build_predicted_graph(
            output, self.task, num_obj_classes=self.num_obj_classes,
            noise_std=self.data_noise_std, with_image_graph=with_image_graph)
        image_embedding = energy_model.image_embedding(predicted)
        sampled = self.sampler(lambda graph: energy_model(graph, image_embedding), predicted,
                               self.task.free_nodes)
        return EnergyGraphs(gt_graph, predicted, sampled, image_embedding)

    def energy_terms(self, positive: Tensor, negative: Tensor) -> dict[str, Tensor]:
        """``loss_energy`` (lambda_e L_e) and ``loss_energy_l2`` (lambda_r Eq. 4) of [B] E+, E-."""
        return {"loss_energy": self.loss_weight * self.energy_loss(positive, negative),
                "loss_energy_l2": self.l2_weight * energy_l2_regularizer(positive, negative)}

    def __call__(self, energy_model: nn.Module, output: RelationHeadOutputLike,
                 targets: Sequence[BoxList], task_losses: dict[str, Tensor]
                 ) -> dict[str, Tensor]:
        """Eq. 5 terms for one batch; ``task_losses`` are the relation head's losses."""
        graphs = self.graphs(energy_model, output, targets)
        sampled, image_embedding = graphs.sampled, graphs.image_embedding
        positive = energy_model(graphs.positive).float()
        descend = self.sampler.grad_mode is GradMode.DESCEND
        # DESCEND: the energy model learns from a detached copy of the sampled graph ...
        negative = energy_model(sampled.detach() if descend else sampled,
                                image_embedding).float()

        losses = {name: self.task_loss_weight * value for name, value in task_losses.items()}
        finite = bool(torch.isfinite(positive).all()) and bool(torch.isfinite(negative).all())
        stats = {"energy/positive": positive.detach().mean(),
                 "energy/negative": negative.detach().mean()}
        if finite:
            losses.update(self.energy_terms(positive, negative))
            stats["energy/grad_factor"] = negative_energy_grad_factor(
                lambda pos, neg: sum(self.energy_terms(pos, neg).values()),
                positive, negative).mean()
            if descend:  # ... and the relation model lowers it, through a frozen energy model
                frozen = _energy_with_frozen_parameters(energy_model, sampled,
                                                        image_embedding.detach()
                                                        if image_embedding is not None else None)
                losses["loss_energy_descent"] = self.loss_weight * frozen.float().mean()
        else:
            self.num_skipped += 1
            logger.warning("Non-finite energies (E+ %s, E- %s): energy loss skipped for this "
                           "step (%d skipped so far)", positive.detach().tolist(),
                           negative.detach().tolist(), self.num_skipped)
            zero = _zero_connected_to(energy_model)
            losses["loss_energy"] = zero
            losses["loss_energy_l2"] = zero.clone()
        storage = get_event_storage()
        stats["energy/skipped_steps"] = self.num_skipped
        if self._measure_grad_ratio(storage.iter):
            ratio = _gradient_ratio(losses, output.relation_logits)
            if ratio is not None:
                stats["energy/grad_ratio"] = ratio
        storage.put_scalars(**stats)
        return losses

    def _measure_grad_ratio(self, iteration: int) -> bool:
        return (self.grad_ratio_period > 0 and iteration % self.grad_ratio_period == 0
                and torch.is_grad_enabled())


def _gradient_ratio(losses: dict[str, Tensor], relation_logits: Sequence[Tensor]
                    ) -> float | None:
    """||d energy losses / d logits|| / ||d task losses / d logits||; None if the latter is 0."""
    energy = [value for name, value in losses.items() if name.startswith("loss_energy")]
    task = [value for name, value in losses.items() if not name.startswith("loss_energy")]
    energy_norm, task_norm = relation_gradient_norms(
        sum(energy), sum(task) if task else None, relation_logits)
    if task_norm == 0.0:
        logger.debug("energy/grad_ratio not logged: the task losses send no gradient to the "
                     "relation logits")
        return None
    return energy_norm / task_norm


def _energy_with_frozen_parameters(energy_model: nn.Module, graph, image_embedding) -> Tensor:
    """Energies whose gradient reaches the graph's states but no energy-model parameter."""
    frozen = {name: value.detach() for name, value in energy_model.state_dict().items()}
    return torch.func.functional_call(energy_model, frozen, (graph, image_embedding))


def _zero_connected_to(module: nn.Module) -> Tensor:
    """0.0, as a sum over every trainable parameter (each gets a zero gradient)."""
    terms = [param.sum() * 0.0 for param in module.parameters() if param.requires_grad]
    return torch.stack(terms).sum()


def build_energy_objective(cfg, num_obj_classes: int, num_rel_classes: int) -> EnergyObjective:
    """Objective from ENERGY_MODEL.*, SAMPLER.* and the task switch of ROI_RELATION_HEAD."""
    head = cfg.MODEL.ROI_RELATION_HEAD
    return EnergyObjective(
        task=SGGTask.from_flags(head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL),
        sampler=build_sampler(cfg),
        energy_loss=build_energy_loss(cfg),
        num_obj_classes=num_obj_classes,
        num_rel_classes=num_rel_classes,
        data_noise_std=cfg.ENERGY_MODEL.DATA_NOISE_VAR,
        loss_weight=cfg.ENERGY_MODEL.LOSS_WEIGHT,
        l2_weight=cfg.ENERGY_MODEL.L2COEFF,
        task_loss_weight=cfg.ENERGY_MODEL.TASK_LOSS_WEIGHT,
        positive_graph=cfg.ENERGY_MODEL.POSITIVE_GRAPH,
        grad_ratio_period=cfg.MODEL.ROI_RELATION_HEAD.EBM.GRAD_RATIO_PERIOD,
    )
