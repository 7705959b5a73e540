"""EnergyObjective: the energy loss plugin over the relation head's output (Eq. 2, 4, 5).

Per training step: build the GT and the predicted scene graphs, move the predicted one
towards low energy with the sampler, evaluate E+ (GT) and E- (sampled) and return

    loss_<task> = lambda_t * task loss          (every relation head loss, rescaled)
    loss_energy = lambda_e * L_e(E+, E-)        (ENERGY_MODEL.LOSS, e.g. Eq. 2)
    loss_energy_l2 = lambda_r * mean(E+^2 + E-^2)   (Eq. 4; L2_REDUCTION "sum": over images)

so that the sum of the returned dict is Eq. 5. The negative graph's initial states follow
ENERGY_MODEL.NEGATIVE_STATES; with ENERGY_MODEL.HARD_NEGATIVES.NUM > 0 every image also gets that
many constant hard negatives (``hard_negatives.py``), scored with the sampled one: E- is then
[B, 1 + NUM] and each loss averages over an image's negatives before averaging over images.
Losses with ``uses_distance`` (``Margin``) also get, per negative, the number of edges (and free
nodes) whose argmax label differs from G+ (1 for the sampled graph when G+ is the "gt" graph,
whose edges are not G-'s).

Logging values go to the training loop's event storage (``get_event_storage``), never into the
loss dict: ``energy/positive`` and ``energy/negative`` (mean E+ and E- of the sampled graph),
``energy/skipped_steps`` (running count), ``energy/grad_factor`` (mean over images of
B * d(loss_energy + loss_energy_l2)/dE-_b of the sampled graph, the factor in front of dE-/dphi in
the relation model's gradient; -lambda_e T + 2 lambda_r E- for Eq. 2), with hard negatives
``energy/hard_negative`` (their mean E), with ``Margin`` ``energy/margin_active`` (share of
negatives whose hinge is non-zero) and, every ``grad_ratio_period`` iterations,
``energy/grad_ratio`` (norm of the energy losses' gradient on the relation logits over that of
the task losses; see ``gradient_stats.py``).

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
    NEGATIVE_STATES,
    RelationHeadOutputLike,
    build_gt_graph,
    build_matched_gt_graph,
    build_predicted_graph,
    gt_image_features,
)
from .hard_negatives import HardNegatives, HardNegativeSampler, LabelPrior
from .losses import L2_REDUCTIONS, build_energy_loss, energy_l2_regularizer
from .samplers import GradMode, build_sampler

logger = logging.getLogger(__name__)

__all__ = ["POSITIVE_GRAPHS", "EnergyGraphs", "EnergyObjective", "build_energy_objective",
           "build_hard_negative_sampler"]

# How the positive (ground-truth) graph is built: "gt" = GT boxes and GT relations only (the
# EBM code), "matched" = the predicted graph's nodes and pairs with GT states.
POSITIVE_GRAPHS = ("gt", "matched")


@dataclass(frozen=True)
class EnergyGraphs:
    """The graphs of one training step: G+, G0, the sampled G-, G0's pooled image graph and,
    with HARD_NEGATIVES.NUM > 0, the hard negatives."""

    positive: SceneGraph
    predicted: SceneGraph
    sampled: SceneGraph
    image_embedding: Tensor | None
    hard_negatives: HardNegatives | None = None


class EnergyObjective:
    """Turns (energy model, relation head output, targets, task losses) into Eq. 5's terms."""

    def __init__(self, *, task: SGGTask, sampler, energy_loss, num_obj_classes: int,
                 num_rel_classes: int, data_noise_std: float, loss_weight: float,
                 l2_weight: float, task_loss_weight: float,
                 positive_graph: str = "gt", grad_ratio_period: int = 0,
                 negative_states: str = "minmax", l2_reduction: str = "mean",
                 hard_negatives: HardNegativeSampler | None = None) -> None:
        if positive_graph not in POSITIVE_GRAPHS:
            raise ValueError(f"ENERGY_MODEL.POSITIVE_GRAPH is {positive_graph!r}; use one of "
                             f"{', '.join(POSITIVE_GRAPHS)}")
        if negative_states not in NEGATIVE_STATES:
            raise ValueError(f"ENERGY_MODEL.NEGATIVE_STATES is {negative_states!r}; use one of "
                             f"{', '.join(NEGATIVE_STATES)}")
        if l2_reduction not in L2_REDUCTIONS:
            raise ValueError(f"ENERGY_MODEL.L2_REDUCTION is {l2_reduction!r}; use one of "
                             f"{', '.join(L2_REDUCTIONS)}")
        if hard_negatives is not None and positive_graph != "matched":
            raise ValueError(
                "ENERGY_MODEL.HARD_NEGATIVES.NUM > 0 needs ENERGY_MODEL.POSITIVE_GRAPH "
                f"'matched' (hard negatives are the matched GT graph with labels changed), got "
                f"{positive_graph!r}; set POSITIVE_GRAPH matched or HARD_NEGATIVES.NUM 0")
        if getattr(energy_loss, "uses_distance", False) and positive_graph == "gt":
            logger.info("ENERGY_MODEL.POSITIVE_GRAPH 'gt': G+ and G- have different edges, so "
                        "the %s loss uses the distance d = 1 for every sampled negative",
                        type(energy_loss).__name__)
        self.positive_graph = positive_graph
        self.negative_states = negative_states
        self.l2_reduction = l2_reduction
        self.hard_negatives = hard_negatives
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
            noise_std=self.data_noise_std, with_image_graph=with_image_graph,
            states=self.negative_states)
        image_embedding = energy_model.image_embedding(predicted)
        sampled = self.sampler(lambda graph: energy_model(graph, image_embedding), predicted,
                               self.task.free_nodes)
        hard = None
        if self.hard_negatives is not None:
            hard = self.hard_negatives(
                gt_graph, [p.get_field("labels") for p in output.proposals],
                output.rel_labels, output.rel_pair_idxs)
        return EnergyGraphs(gt_graph, predicted, sampled, image_embedding, hard)

    def energy_terms(self, positive: Tensor, negative: Tensor, distance: Tensor | None = None,
                     mask: Tensor | None = None) -> dict[str, Tensor]:
        """``loss_energy`` (lambda_e L_e) and ``loss_energy_l2`` (lambda_r Eq. 4) of [B] E+ and
        [B] or [B, M] E- (optional per-negative ``distance`` and ``mask``, see losses.py)."""
        if distance is None and mask is None:
            contrast = self.energy_loss(positive, negative)
        else:
            contrast = self.energy_loss(positive, negative, distance=distance, mask=mask)
        return {"loss_energy": self.loss_weight * contrast,
                "loss_energy_l2": self.l2_weight * energy_l2_regularizer(
                    positive, negative, mask=mask, reduction=self.l2_reduction)}

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
        hard = (None if graphs.hard_negatives is None
                else self._hard_energies(energy_model, graphs))
        negatives, mask = negative, None
        if hard is not None:
            negatives = torch.cat([negative.unsqueeze(1), hard], dim=1)
            mask = torch.cat([torch.ones_like(negative, dtype=torch.bool).unsqueeze(1),
                              graphs.hard_negatives.mask.to(negative.device)], dim=1)
        distance = (self._distances(graphs) if getattr(self.energy_loss, "uses_distance", False)
                    else None)

        losses = {name: self.task_loss_weight * value for name, value in task_losses.items()}
        finite = (bool(torch.isfinite(positive).all())
                  and bool(torch.isfinite(negatives).all()))
        stats = {"energy/positive": positive.detach().mean(),
                 "energy/negative": negative.detach().mean()}
        if hard is not None and bool(mask[:, 1:].any()):
            stats["energy/hard_negative"] = hard.detach()[mask[:, 1:]].mean()
        if finite:
            losses.update(self.energy_terms(positive, negatives, distance, mask))
            factor = negative_energy_grad_factor(
                lambda pos, neg: sum(self.energy_terms(pos, neg, distance, mask).values()),
                positive, negatives)
            # only the sampled graph (column 0 with hard negatives) reaches the relation model
            stats["energy/grad_factor"] = (factor if factor.dim() == 1 else factor[:, 0]).mean()
            if distance is not None and hasattr(self.energy_loss, "hinge_input"):
                active = self.energy_loss.hinge_input(positive.detach(), negatives.detach(),
                                                      distance) > 0
                stats["energy/margin_active"] = (active.float().mean() if mask is None
                                                 else active[mask].float().mean())
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

    def _hard_energies(self, energy_model: nn.Module, graphs: EnergyGraphs) -> Tensor:
        """[B, NUM] energies of the (constant) hard negatives; their image graph is G+'s,
        pooled once on detached features and shared by the NUM copies."""
        hard = graphs.hard_negatives
        batch = graphs.positive.num_graphs
        copies = hard.graph.num_graphs // max(batch, 1)
        embedding = energy_model.image_embedding(graphs.positive.detach())
        if embedding is not None:
            embedding = embedding.repeat(copies, 1)
        energies = energy_model(hard.graph, embedding).float()
        return energies.reshape(copies, batch).t()

    def _distances(self, graphs: EnergyGraphs) -> Tensor:
        """[B] (or [B, 1 + NUM] with hard negatives) labels in which each negative differs
        from G+: argmax differences of the edges, and of the nodes when they are free."""
        positive, sampled = graphs.positive, graphs.sampled
        if self.positive_graph == "gt":  # different edge sets: no label-wise distance
            sampled_distance = torch.ones(positive.num_graphs, device=positive.edge_states.device)
        else:
            sampled_distance = _label_differences(positive, sampled, self.task.free_nodes)
        if graphs.hard_negatives is None:
            return sampled_distance
        changes = graphs.hard_negatives.changes.to(sampled_distance)
        return torch.cat([sampled_distance.unsqueeze(1), changes], dim=1)

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


def _label_differences(first: SceneGraph, second: SceneGraph, with_nodes: bool) -> Tensor:
    """[B] float: per image, edges (and nodes if ``with_nodes``) whose argmax labels differ
    between two graphs with the same structure."""
    if first.num_edges != second.num_edges or first.num_nodes != second.num_nodes:
        raise ValueError(f"label distance: the graphs differ in structure ({first.num_nodes} / "
                         f"{second.num_nodes} nodes, {first.num_edges} / {second.num_edges} "
                         "edges); it needs POSITIVE_GRAPH 'matched'")
    device = first.edge_states.device
    differs = (first.edge_states.argmax(dim=1) != second.edge_states.argmax(dim=1)).double()
    distance = torch.zeros(first.num_graphs, dtype=torch.float64, device=device)
    distance.index_add_(0, first.edge_batch, differs)
    if with_nodes:
        node_differs = (first.node_states.argmax(dim=1)
                        != second.node_states.argmax(dim=1)).double()
        distance.index_add_(0, first.node_batch, node_differs)
    return distance.float()


def _energy_with_frozen_parameters(energy_model: nn.Module, graph, image_embedding) -> Tensor:
    """Energies whose gradient reaches the graph's states but no energy-model parameter."""
    frozen = {name: value.detach() for name, value in energy_model.state_dict().items()}
    return torch.func.functional_call(energy_model, frozen, (graph, image_embedding))


def _zero_connected_to(module: nn.Module) -> Tensor:
    """0.0, as a sum over every trainable parameter (each gets a zero gradient)."""
    terms = [param.sum() * 0.0 for param in module.parameters() if param.requires_grad]
    if not terms:  # a frozen energy model (ENERGY_MODEL.FREEZE)
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.stack(terms).sum()


def build_hard_negative_sampler(cfg, task: SGGTask, num_obj_classes: int, num_rel_classes: int,
                                statistics=None) -> HardNegativeSampler | None:
    """ENERGY_MODEL.HARD_NEGATIVES.* as a sampler, or None when NUM is 0; the frequency source
    reads ``statistics`` (a DatasetStatistics; computed from the train split if None)."""
    hard = cfg.ENERGY_MODEL.HARD_NEGATIVES
    if hard.NUM < 0:
        raise ValueError(f"ENERGY_MODEL.HARD_NEGATIVES.NUM must be >= 0, got {hard.NUM}")
    if hard.NUM == 0:
        return None
    if cfg.ENERGY_MODEL.POSITIVE_GRAPH != "matched":
        raise ValueError(
            "ENERGY_MODEL.HARD_NEGATIVES.NUM > 0 needs ENERGY_MODEL.POSITIVE_GRAPH 'matched' "
            "(hard negatives are the matched GT graph with labels changed), got "
            f"{cfg.ENERGY_MODEL.POSITIVE_GRAPH!r}; set POSITIVE_GRAPH matched or "
            "HARD_NEGATIVES.NUM 0")
    prior = None
    if hard.SOURCE == "frequency":
        if statistics is None:
            # Imported here: only this build step reaches into the data package.
            from maskrcnn_benchmark.data.statistics import get_dataset_statistics

            statistics = get_dataset_statistics(cfg)
        prior = LabelPrior.from_statistics(statistics, num_obj_classes, num_rel_classes)
    return HardNegativeSampler(
        num=hard.NUM, num_changes=tuple(hard.NUM_CHANGES), source=hard.SOURCE,
        change_nodes=task.free_nodes, num_obj_classes=num_obj_classes,
        num_rel_classes=num_rel_classes, prior=prior, additions=hard.ADDITIONS,
        deletions=hard.DELETIONS)


def build_energy_objective(cfg, num_obj_classes: int, num_rel_classes: int,
                           statistics=None) -> EnergyObjective:
    """Objective from ENERGY_MODEL.*, SAMPLER.* and the task switch of ROI_RELATION_HEAD;
    ``statistics`` (train-split DatasetStatistics) feed the hard negatives' frequency prior."""
    head = cfg.MODEL.ROI_RELATION_HEAD
    task = SGGTask.from_flags(head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL)
    if cfg.SAMPLER.NAME == "GibbsWithGradients" and cfg.ENERGY_MODEL.NEGATIVE_STATES != "sample":
        raise ValueError(
            "SAMPLER.NAME GibbsWithGradients flips one-hot labels, but ENERGY_MODEL."
            f"NEGATIVE_STATES is {cfg.ENERGY_MODEL.NEGATIVE_STATES!r}; set it to 'sample' (or "
            "use SAMPLER.NAME SGLD)")
    return EnergyObjective(
        task=task,
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
        negative_states=cfg.ENERGY_MODEL.NEGATIVE_STATES,
        l2_reduction=cfg.ENERGY_MODEL.L2_REDUCTION,
        hard_negatives=build_hard_negative_sampler(cfg, task, num_obj_classes, num_rel_classes,
                                                   statistics),
    )
