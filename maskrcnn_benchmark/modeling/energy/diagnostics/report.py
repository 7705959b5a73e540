"""Energy diagnostics of a trained EBM model: energies, shortcut probe, ranking test.

``run_energy_diagnostics(cfg, model, statistics)`` returns a JSON-ready dict:

- ``energies``: mean E+ and E- of the graphs the objective builds on the probe images, the
  logged gradient factor at those energies and the closed-form optimum of Eq. 2 + Eq. 4;
- ``probe``: the shortcut probe (logistic regression on structure-free graph statistics,
  G+ vs G- of the probe split, held-out accuracy);
- ``ranking``: E(GT) against E(GT with k predicates changed) on the test split, random
  changes (train predicate frequency) and, on the synthetic benchmark, rule-breaking ones.

``format_report`` renders the short table the tool prints; ``write_report`` writes the JSON.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

import torch
from torch import nn

from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.engine.relation import split_dataset_names

from ..gradient_stats import negative_energy_grad_factor
from ..losses import ContrastiveDivergence
from ..objective import EnergyObjective
from .collect import (
    iterate_batches,
    noise_free,
    ranking_graphs,
    record_training_graphs,
    template_energy,
)
from .graph_stats import graph_statistics
from .probe import shortcut_probe
from .ranking import random_changes, ranking_test
from .rule_changes import SceneRules, rule_breaking_changes

__all__ = ["run_energy_diagnostics", "format_report", "write_report"]

logger = logging.getLogger(__name__)

KIND_TITLES = {"random": "random (train frequency)", "rule": "rule-breaking (scene/context)"}


def run_energy_diagnostics(cfg, model: nn.Module, statistics, *, num_images: int = 100,
                           probe_split: str | None = None, ks: Sequence[int] = (1, 2, 3),
                           variants_per_k: int = 4, seed: int = 0) -> dict:
    """All diagnostics on the first ``num_images`` images of the probe and test splits."""
    objective = getattr(model, "energy_objective", None)
    if getattr(model, "energy_model", None) is None or not isinstance(objective,
                                                                    EnergyObjective):
        raise ValueError("The energy diagnostics need a model built with MODEL.ENERGY_ON True "
                         "(and a checkpoint trained with it)")
    if num_images < 2:
        raise ValueError(f"--images must be at least 2 (got {num_images}): the probe needs "
                         "graphs to train and to test on")
    probe_split = probe_split or ("val" if cfg.DATASETS.VAL else "train")
    device = torch.device(cfg.MODEL.DEVICE)
    batching = dict(batch_size=max(1, cfg.SOLVER.IMS_PER_BATCH),
                    size_divisibility=cfg.DATALOADER.SIZE_DIVISIBILITY, device=device)
    torch.manual_seed(seed)
    energies, probe = _probe_split(cfg, model, objective, probe_split, num_images, batching)
    ranking = _ranking(cfg, model, objective, statistics, num_images, batching, ks,
                       variants_per_k, seed)
    return {"setup": _setup(cfg, objective), "energies": energies, "probe": probe,
            "ranking": ranking}


def _setup(cfg, objective: EnergyObjective) -> dict:
    return {"task": objective.task.value, "positive_graph": objective.positive_graph,
            "loss": cfg.ENERGY_MODEL.LOSS, "grad_mode": cfg.SAMPLER.GRAD_MODE,
            "sampler_steps": cfg.SAMPLER.ITERS, "lambda_e": objective.loss_weight,
            "lambda_r": objective.l2_weight, "temperature": cfg.ENERGY_MODEL.TEMP}


def _dataset(cfg, split: str):
    names = split_dataset_names(cfg, split)
    if not names:
        raise ValueError(f"DATASETS.{split.upper()} is empty: the energy diagnostics need "
                         f"images of the {split} split")
    return names[0], build_dataset(cfg, names[:1], is_train=False)[0]


def _probe_split(cfg, model: nn.Module, objective: EnergyObjective, split: str,
                 num_images: int, batching: dict) -> tuple[dict, dict]:
    name, dataset = _dataset(cfg, split)
    indices = list(range(min(num_images, len(dataset))))
    positive_features, negative_features, positives, negatives, factors = [], [], [], [], []
    for images, targets, idxs in iterate_batches(dataset, indices, **batching):
        graphs = record_training_graphs(model, objective, images, targets, idxs).graphs
        positive_features.append(graph_statistics(graphs.positive))
        negative_features.append(graph_statistics(graphs.sampled))
        with torch.no_grad():
            positive = model.energy_model(graphs.positive).float()
            negative = model.energy_model(graphs.sampled, graphs.image_embedding).float()
        if not (torch.isfinite(positive).all() and torch.isfinite(negative).all()):
            raise ValueError(f"Non-finite energies on {name} images {idxs}: the checkpoint's "
                             "energy model is broken; check its training log")
        factors.append(negative_energy_grad_factor(
            lambda pos, neg: sum(objective.energy_terms(pos, neg).values()), positive, negative))
        positives.append(positive.cpu())
        negatives.append(negative.cpu())
    positive, negative = torch.cat(positives), torch.cat(negatives)
    energies = {"split": split, "dataset": name, "images": len(indices),
                "positive_mean": float(positive.mean()), "negative_mean": float(negative.mean()),
                "positive_std": float(positive.std()) if len(positive) > 1 else 0.0,
                "negative_std": float(negative.std()) if len(negative) > 1 else 0.0,
                "grad_factor": float(torch.cat(factors).mean()),
                "closed_form_optimum": _closed_form(objective, batching["batch_size"])}
    result = shortcut_probe(torch.cat(positive_features), torch.cat(negative_features))
    probe = {"split": split, "dataset": name, **result.to_dict()}
    return energies, probe


def _closed_form(objective: EnergyObjective, images_per_batch: int) -> dict | None:
    """Minimiser of lambda_e T (mean E+ - mean E-) + lambda_r Eq. 4 per image (Eq. 2 only): with
    Eq. 4 averaged over the batch E+- = -+lambda_e T / (2 lambda_r); summed (the EBM code,
    L2_REDUCTION sum) the gap shrinks by the images per batch (per process)."""
    if not isinstance(objective.energy_loss, ContrastiveDivergence) or objective.l2_weight <= 0:
        return None
    half_gap = objective.loss_weight * objective.energy_loss.temperature / (
        2 * objective.l2_weight)
    if objective.l2_reduction == "sum":
        half_gap /= images_per_batch
    return {"positive": -half_gap, "negative": half_gap}


def _ranking(cfg, model: nn.Module, objective: EnergyObjective, statistics, num_images: int,
             batching: dict, ks: Sequence[int], variants_per_k: int, seed: int) -> dict:
    name, dataset = _dataset(cfg, "test")
    rules = SceneRules.for_dataset(dataset.ind_to_classes, dataset.ind_to_predicates)
    if rules is None:
        logger.info("%s is not a synthetic-benchmark data set: no scene rules, so the ranking "
                    "test runs only the random variant", name)
    weights = statistics.predicate_counts.double()
    if len(weights) != len(dataset.ind_to_predicates):
        raise ValueError(f"The statistics have {len(weights)} predicate counts but {name} has "
                         f"{len(dataset.ind_to_predicates)} predicates; delete the statistics "
                         "cache under OUTPUT_DIR so that it is recomputed")
    quiet = noise_free(objective)
    generator = torch.Generator().manual_seed(seed)
    graphs, templates, variants = [], [], []
    indices = list(range(min(num_images, len(dataset))))
    for images, targets, idxs in iterate_batches(dataset, indices, **batching):
        batch = record_training_graphs(model, quiet, images, targets, idxs)
        for graph, template in ranking_graphs(batch, objective.positive_graph, dataset,
                                              len(graphs)):
            image_variants = random_changes(graph, ks, variants_per_k, weights, generator)
            if rules is not None:
                image_variants += rule_breaking_changes(graph, ks, variants_per_k, rules,
                                                        generator)
            graphs.append(graph)
            templates.append(template)
            variants.append(image_variants)
    results = ranking_test(template_energy(model.energy_model, templates), graphs, variants)
    return {"split": "test", "dataset": name, "images": len(indices),
            "rules": rules is not None, "ks": list(ks), "variants_per_k": variants_per_k,
            "kinds": {kind: result.to_dict() for kind, result in results.items()}}


def _number(value: float | None, width: int = 7) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.3f}"


def format_report(report: dict) -> str:
    """A short plain-text table of the report."""
    setup, energies, probe, ranking = (report["setup"], report["energies"], report["probe"],
                                       report["ranking"])
    optimum = energies["closed_form_optimum"]
    lines = [
        f"Energy diagnostics: {setup['task']}, {setup['loss']}, POSITIVE_GRAPH "
        f"{setup['positive_graph']}, sampler {setup['grad_mode']} x {setup['sampler_steps']}",
        f"energies on {energies['images']} {energies['split']} images: "
        f"E+ {energies['positive_mean']:.4f}  E- {energies['negative_mean']:.4f}"
        + (f"  (optimum of Eq. 2 + 4: {optimum['positive']:.4f} / {optimum['negative']:.4f})"
           if optimum else "")
        + f"  grad factor {energies['grad_factor']:.4f}",
        f"shortcut probe, G+ vs G- on {probe['split']} ({probe['num_train']} train / "
        f"{probe['num_test']} test graphs): held-out accuracy {probe['accuracy']:.3f} "
        f"(chance 0.500 +- {probe['chance_std']:.3f}); one feature alone: "
        + ", ".join(f"{name} {acc:.2f}" for name, acc in probe["single_feature_accuracy"].items()),
        f"ranking on {ranking['images']} {ranking['split']} images, accuracy of "
        "E(GT) < E(changed), ties half:",
    ]
    ks = ranking["ks"]
    header = (f"  {'change':<32}" + "".join(f"{'k=' + str(k):>7}" for k in ks)
              + f"{'all':>7}{'spearman':>10}{'in-image':>10}")
    lines.append(header)
    for kind, result in ranking["kinds"].items():
        row = f"  {KIND_TITLES.get(kind, kind):<32}"
        row += "".join(_number(result["accuracy"].get(str(k))) for k in ks)
        row += _number(result["overall"]) + _number(result["spearman"], 10)
        row += _number(result["spearman_within_image"], 10)
        lines.append(row)
    if not ranking["kinds"]:
        lines.append("  (no image had a foreground edge to change)")
    if not ranking["rules"]:
        lines.append("  (no scene rules for this data set: random changes only)")
    return "\n".join(lines)


def write_report(report: dict, path: str) -> None:
    """Write the report as JSON atomically (an existing file is replaced only when complete)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
