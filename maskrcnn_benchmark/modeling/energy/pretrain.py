"""Pretraining of the energy model on the train split's GT graphs (ENERGY_MODEL.PRETRAIN).

No detector and no image graph: every train image's GT graph on all ordered pairs of its
objects (``pretrain_graphs.py``) is a positive; HARD_NEGATIVES.NUM copies with k predicates
changed (``HardNegativeSampler``: k from NUM_CHANGES, new predicates from SOURCE, predicates
only as in PredCls) are its negatives. The loss is Eq. 5 without the task term:

    L_e(E+, E-, d) + L2COEFF * Eq. 4(E+, E-)

(ENERGY_MODEL.LOSS_WEIGHT is lambda_e of relation training, how strongly the energy acts on
the relation model; it does not scale the pretraining loss, so one pretrained energy model
serves runs with any lambda_e.)

with L_e = ENERGY_MODEL.LOSS (``Margin``: d = the number of changed predicates), Adam(PRETRAIN.LR),
PRETRAIN.BATCH_SIZE graphs per step, PRETRAIN.EPOCHS passes over the shuffled train graphs.
The ranking test (``build_ranking_set`` / ``evaluate_ranking``) scores GT graphs against fixed
changed copies per k and kind: ``random`` = train predicate frequency as in the energy
diagnostics, ``hard_negative`` = drawn like the training negatives, ``rule`` = rule-breaking
changes on the synthetic benchmark, and there also relations removed or added
(``rule_deletion``: a required link missing, ``rule_addition``: a forbidden one added,
``addition``: a harmless one added; ``link_changes``); share with E(GT) < E(changed), ties
half. ``rule_addition>addition`` and ``rule_addition>matched_addition`` compare additions of
one image with each other instead (share with E(forbidden) > E(harmless)): an energy can
charge every addition against the GT graph and still not tell the two apart. The run over a
config (datasets, files, TensorBoard) is ``pretrain_run.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from maskrcnn_benchmark.structures.scene_graph import SceneGraph
from maskrcnn_benchmark.utils.env import get_rng_state, seed_all_rng, set_rng_state

from .diagnostics.collect import template_energy
from .diagnostics.ranking import (
    PredicateGraph,
    Variant,
    contrast_test,
    random_changes,
    ranking_test,
)
from .diagnostics.rule_changes import SceneRules, link_changes, rule_breaking_changes
from .hard_negatives import HardNegativeSampler
from .losses import energy_l2_regularizer
from .pretrain_graphs import GTGraph, batch_graphs

__all__ = ["EpochStats", "RankingSet", "build_ranking_set", "evaluate_ranking",
           "train_one_epoch", "RANKING_KS"]

RANKING_KS = (1, 2, 3)
# (high, low) kinds whose variants of one image are also compared with each other: a forbidden
# addition against a harmless one, and against the same predicates added where they are
# harmless ("rule_addition>addition", "rule_addition>matched_addition" in the results)
CONTRASTS = (("rule_addition", "addition"), ("rule_addition", "matched_addition"))


@dataclass
class EpochStats:
    """Means over one epoch's steps (loss weighted by graphs, energies over graphs)."""

    loss: float
    positive: float         # mean E+
    negative: float         # mean E- over the existing negatives
    train_ranking: float    # share of negatives with E+ < E- before each step (ties half)
    margin_active: float | None  # Margin loss: share of negatives with an active hinge
    steps: int
    graphs: int


@dataclass
class RankingSet:
    """GT graphs, their noise-free SceneGraphs and fixed changed copies for the ranking test."""

    graphs: list[PredicateGraph]
    templates: list[SceneGraph]
    variants: list[list[Variant]]


def train_one_epoch(model: nn.Module, optimizer: torch.optim.Optimizer,
                    graphs: Sequence[GTGraph], sampler: HardNegativeSampler, energy_loss, *,
                    batch_size: int, noise_std: float, loss_weight: float, l2_weight: float,
                    l2_reduction: str, device: torch.device | str = "cpu") -> EpochStats:
    """One shuffled pass (global torch RNG) over ``graphs`` against their hard negatives."""
    if sampler.num_rel_classes < 3 or any(graph.num_annotated == 0 for graph in graphs):
        raise ValueError("energy pretraining: every graph needs an annotated relation and the "
                         "data set two foreground predicates, or no predicate can be changed")
    model.train()
    order = torch.randperm(len(graphs)).tolist()
    sums = {"loss": 0.0, "positive": 0.0, "negative": 0.0, "wins": 0.0, "active": 0.0}
    num_negatives, steps = 0, 0
    hinge = getattr(energy_loss, "hinge_input", None)
    for start in range(0, len(order), batch_size):
        batch = [graphs[i] for i in order[start:start + batch_size]]
        positive_graph = batch_graphs(batch, num_obj_classes=sampler.num_obj_classes,
                                      num_rel_classes=sampler.num_rel_classes,
                                      noise_std=noise_std, device=device)
        hard = sampler(positive_graph, [g.labels for g in batch], [g.predicates for g in batch],
                       [g.pairs for g in batch])
        positive = model(positive_graph).float()
        negative = model(hard.graph).float().reshape(sampler.num, len(batch)).t()
        mask = hard.mask.to(positive.device)
        distance = hard.changes.to(negative)
        loss = (loss_weight * energy_loss(positive, negative, distance=distance, mask=mask)
                + l2_weight * energy_l2_regularizer(positive, negative, mask=mask,
                                                    reduction=l2_reduction))
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"energy pretraining: the loss is {float(loss)} at step {steps} (E+ "
                f"{positive.detach().mean().item():.4g}); lower ENERGY_MODEL.PRETRAIN.LR or "
                "raise ENERGY_MODEL.L2COEFF")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            gap = positive.unsqueeze(1) - negative
            existing = negative[mask]
            sums["loss"] += float(loss) * len(batch)
            sums["positive"] += float(positive.sum())
            sums["negative"] += float(existing.sum())
            sums["wins"] += float(((gap < 0).float() + 0.5 * (gap == 0).float())[mask].sum())
            if hinge is not None:
                sums["active"] += float((hinge(positive, negative, distance) > 0)[mask].sum())
        num_negatives += int(mask.sum())
        steps += 1
    count, negatives = max(len(order), 1), max(num_negatives, 1)
    return EpochStats(loss=sums["loss"] / count, positive=sums["positive"] / count,
                      negative=sums["negative"] / negatives,
                      train_ranking=sums["wins"] / negatives,
                      margin_active=sums["active"] / negatives if hinge is not None else None,
                      steps=steps, graphs=len(order))


def build_ranking_set(graphs: Sequence[GTGraph], *, num_obj_classes: int,
                      predicate_weights: Tensor, sampler: HardNegativeSampler | None,
                      rules: SceneRules | None, seed: int, ks: Sequence[int] = RANKING_KS,
                      count: int = 1) -> RankingSet:
    """Up to ``count`` changed copies per graph, k and kind (``random`` from
    ``predicate_weights`` [R], ``hard_negative`` when ``sampler`` is given, ``rule`` and the
    link kinds when ``rules`` are), drawn under ``seed`` without moving any global RNG stream
    (the link kinds from their own generator, so the other kinds' copies stay those drawn
    before they existed)."""
    state = get_rng_state()
    try:
        seed_all_rng(seed)
        generator = torch.Generator().manual_seed(seed)
        link_generator = torch.Generator().manual_seed(seed + 1)
        out = RankingSet([], [], [])
        for graph in graphs:
            view = graph.as_predicate_graph(len(out.graphs))
            variants = random_changes(view, ks, count, predicate_weights, generator)
            if sampler is not None:
                variants += _sampler_changes(view, ks, count, sampler)
            if rules is not None:
                variants += rule_breaking_changes(view, ks, count, rules, generator)
                variants += link_changes(view, ks, count, rules, link_generator)
            out.graphs.append(view)
            out.variants.append(variants)
            out.templates.append(batch_graphs([graph], num_obj_classes=num_obj_classes,
                                              num_rel_classes=len(predicate_weights),
                                              noise_std=0.0))
        return out
    finally:
        set_rng_state(state)


def _sampler_changes(graph: PredicateGraph, ks: Sequence[int], count: int,
                     sampler: HardNegativeSampler) -> list[Variant]:
    """Copies with exactly k edge labels changed the way the training negatives are drawn."""
    variants = []
    for k in ks:
        one_k = HardNegativeSampler(num=1, num_changes=(k,), source=sampler.source,
                                    change_nodes=False, num_obj_classes=sampler.num_obj_classes,
                                    num_rel_classes=sampler.num_rel_classes, prior=sampler.prior,
                                    additions=sampler.additions, deletions=sampler.deletions)
        for _ in range(count):
            _, predicates, changed = one_k.draw(graph.labels, graph.predicates, graph.pairs)
            if changed == k:
                variants.append(Variant("hard_negative", k, predicates))
    return variants


def evaluate_ranking(model: nn.Module, ranking: RankingSet) -> dict[str, dict]:
    """Ranking test of ``model`` on a RankingSet: per kind, accuracy by k and overall."""
    was_training = model.training
    model.eval()
    try:
        energy = template_energy(model, ranking.templates)
        results = ranking_test(energy, ranking.graphs, ranking.variants)
        for high, low in CONTRASTS:
            if high in results and low in results:
                results[f"{high}>{low}"] = contrast_test(energy, ranking.graphs,
                                                         ranking.variants, high, low)
    finally:
        model.train(was_training)
    return {kind: result.to_dict() for kind, result in results.items()}
