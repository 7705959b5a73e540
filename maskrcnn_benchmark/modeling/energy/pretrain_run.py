"""``pretrain_energy_model(cfg)``: energy pretraining over a config (tools/energy_pretrain_net.py).

Reads the GT graphs of DATASETS.TRAIN again every epoch (annotations only), so a pair annotated
twice and the background pairs kept under MAX_PAIRS are redrawn as the relation-training data
loader would; images without an annotated relation are left out (nothing to change). Seeded from
SEED: two runs give identical weights. Single process (no torchrun).

After every epoch: the ranking test on DATASETS.VAL (one changed copy per image, k = 1, 2, 3 and
kind, drawn once), then, atomically, ``OUTPUT_DIR/energy_model.pth`` (``pretrained.py``; load it
into relation training with ENERGY_MODEL.WEIGHT) and ``OUTPUT_DIR/energy_pretrain.json``
(settings, per-epoch metrics, wall times), and TensorBoard scalars ``energy_pretrain/*`` under
``OUTPUT_DIR/tensorboard``. At the end the same ranking test on DATASETS.TEST goes into the JSON.

``rank_energy_model(cfg)`` runs only that test ranking, on the energy model of
ENERGY_MODEL.WEIGHT (``tools/energy_pretrain_net.py --rank-only``), into
``OUTPUT_DIR/energy_ranking.json``: how a model pretrained before a kind of change existed
ranks it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict
from typing import Any

import torch

from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.utils.atomic_json import write_json_atomic
from maskrcnn_benchmark.utils.comm import is_distributed
from maskrcnn_benchmark.utils.env import get_rng_state, seed_all_rng, set_rng_state

from .diagnostics.rule_changes import SceneRules
from .energy_model import build_energy_model
from .hard_negatives import HardNegativeSampler, LabelPrior
from .losses import build_energy_loss
from .pretrain import RankingSet, build_ranking_set, evaluate_ranking, train_one_epoch
from .pretrain_graphs import GTGraph, load_gt_graphs
from .pretrained import load_energy_model_file, save_energy_model

__all__ = ["pretrain_energy_model", "rank_energy_model", "check_pretrain_config", "WEIGHT_FILE",
           "METRICS_FILE", "RANKING_FILE"]

logger = logging.getLogger(__name__)

WEIGHT_FILE = "energy_model.pth"
METRICS_FILE = "energy_pretrain.json"
RANKING_FILE = "energy_ranking.json"


def check_pretrain_config(cfg) -> None:
    """One clear error for a config energy pretraining cannot run."""
    energy, pretrain = cfg.ENERGY_MODEL, cfg.ENERGY_MODEL.PRETRAIN
    if energy.USE_IMAGE_GRAPH:
        raise ValueError("Energy pretraining has no image (no RoI features): set "
                         "ENERGY_MODEL.USE_IMAGE_GRAPH False, here and in the relation training "
                         "that loads the weights")
    if energy.HARD_NEGATIVES.NUM < 1:
        raise ValueError("Energy pretraining needs ENERGY_MODEL.HARD_NEGATIVES.NUM >= 1 (the "
                         "negatives are GT graphs with predicates changed), got "
                         f"{energy.HARD_NEGATIVES.NUM}")
    checks = (("EPOCHS", pretrain.EPOCHS >= 1), ("BATCH_SIZE", pretrain.BATCH_SIZE >= 1),
              ("LR", pretrain.LR > 0), ("MAX_PAIRS", pretrain.MAX_PAIRS >= 0))
    for key, ok in checks:
        if not ok:
            raise ValueError(f"ENERGY_MODEL.PRETRAIN.{key} is {getattr(pretrain, key)!r}: "
                             "EPOCHS and BATCH_SIZE must be >= 1, LR > 0, MAX_PAIRS >= 0 "
                             "(0 = every ordered pair)")
    if not cfg.DATASETS.TRAIN:
        raise ValueError("DATASETS.TRAIN is empty: energy pretraining reads its GT graphs")
    if not cfg.OUTPUT_DIR:
        raise ValueError("OUTPUT_DIR is empty: energy pretraining writes energy_model.pth there")
    if is_distributed():
        raise RuntimeError("Energy pretraining runs in one process; start it with python, not "
                           "torchrun")


def pretrain_energy_model(cfg) -> dict[str, Any]:
    """Pretrain the energy model as configured; returns what energy_pretrain.json holds."""
    check_pretrain_config(cfg)
    energy, pretrain = cfg.ENERGY_MODEL, cfg.ENERGY_MODEL.PRETRAIN
    num_obj = cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES
    num_rel = cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    device = torch.device(cfg.MODEL.DEVICE)
    seed_all_rng(cfg.SEED)
    started = time.perf_counter()

    statistics = get_dataset_statistics(cfg)
    train_sets = _datasets(cfg, cfg.DATASETS.TRAIN, num_rel, is_train=True)
    sampler = _hard_negative_sampler(cfg, statistics)
    model = build_energy_model(cfg, 0, num_obj, num_rel).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=pretrain.LR)
    energy_loss = build_energy_loss(cfg)
    rankings = {split: _ranking_set(cfg, names, num_obj, num_rel, statistics, sampler)
                for split, names in (("val", cfg.DATASETS.VAL), ("test", cfg.DATASETS.TEST))
                if names}

    report: dict[str, Any] = {"settings": _settings(cfg), "epochs": []}
    weight_path = os.path.join(cfg.OUTPUT_DIR, WEIGHT_FILE)
    metrics_path = os.path.join(cfg.OUTPUT_DIR, METRICS_FILE)
    logger.info("Energy pretraining: %d epochs, %s loss, %d hard negatives per graph, "
                "batch %d, Adam lr %g; weights -> %s", pretrain.EPOCHS, energy.LOSS,
                energy.HARD_NEGATIVES.NUM, pretrain.BATCH_SIZE, pretrain.LR, weight_path)
    tensorboard = _tensorboard(cfg.OUTPUT_DIR)
    try:
        for epoch in range(1, pretrain.EPOCHS + 1):
            tick = time.perf_counter()
            graphs = [graph for dataset in train_sets
                      for graph in load_gt_graphs(dataset, pretrain.MAX_PAIRS)]
            usable = [graph for graph in graphs if graph.num_annotated > 0]
            if not usable:
                raise ValueError(f"{', '.join(cfg.DATASETS.TRAIN)}: no train image has an "
                                 "annotated relation; nothing to pretrain on")
            stats = train_one_epoch(
                model, optimizer, usable, sampler, energy_loss,
                batch_size=pretrain.BATCH_SIZE, noise_std=energy.DATA_NOISE_VAR,
                loss_weight=1.0, l2_weight=energy.L2COEFF,
                l2_reduction=energy.L2_REDUCTION, device=device)
            train_time = time.perf_counter() - tick
            record = {"epoch": epoch, **asdict(stats), "skipped_graphs": len(graphs) - len(usable),
                      "train_time_s": round(train_time, 3)}
            if "val" in rankings:
                record["val"] = evaluate_ranking(model, rankings["val"])
            record["time_s"] = round(time.perf_counter() - tick, 3)
            report["epochs"].append(record)
            report["wall_time_s"] = round(time.perf_counter() - started, 3)
            logger.info("epoch %d/%d  %s", epoch, pretrain.EPOCHS, _summary(record))
            save_energy_model(weight_path, model, cfg, epoch=epoch, epochs=pretrain.EPOCHS,
                              metrics=_flat(record))
            write_json_atomic(metrics_path, report, indent=2)
            _write_scalars(tensorboard, record, epoch)
        if "test" in rankings:
            report["test"] = evaluate_ranking(model, rankings["test"])
            logger.info("test ranking after %d epochs  %s", pretrain.EPOCHS,
                        _ranking_summary(report["test"]))
        report["wall_time_s"] = round(time.perf_counter() - started, 3)
        write_json_atomic(metrics_path, report, indent=2)
    finally:
        if tensorboard is not None:
            tensorboard.close()
    logger.info("Energy pretraining done in %.1f s: %s, %s", report["wall_time_s"], weight_path,
                metrics_path)
    return report


def rank_energy_model(cfg) -> dict[str, Any]:
    """The test ranking of the energy model in ENERGY_MODEL.WEIGHT (the copies drawn as in
    pretraining under SEED, ``hard_negative`` from ENERGY_MODEL.HARD_NEGATIVES); written to
    OUTPUT_DIR/energy_ranking.json and returned."""
    if not cfg.ENERGY_MODEL.WEIGHT:
        raise ValueError("--rank-only ranks the energy model of ENERGY_MODEL.WEIGHT: set it to "
                         "an energy_model.pth written by tools/energy_pretrain_net.py")
    if not cfg.DATASETS.TEST:
        raise ValueError("--rank-only ranks on DATASETS.TEST, which is empty")
    check_pretrain_config(cfg)
    energy = cfg.ENERGY_MODEL
    num_obj = cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES
    num_rel = cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    model = build_energy_model(cfg, 0, num_obj, num_rel)
    data = load_energy_model_file(energy.WEIGHT, model, cfg)
    statistics = get_dataset_statistics(cfg)
    sampler = _hard_negative_sampler(cfg, statistics)
    started = time.perf_counter()
    ranking = evaluate_ranking(model, _ranking_set(cfg, cfg.DATASETS.TEST, num_obj, num_rel,
                                                   statistics, sampler))
    report = {"weight": energy.WEIGHT, "epoch": data.get("epoch"),
              "datasets": list(cfg.DATASETS.TEST), "seed": cfg.SEED, "test": ranking,
              "wall_time_s": round(time.perf_counter() - started, 3)}
    path = os.path.join(cfg.OUTPUT_DIR, RANKING_FILE)
    write_json_atomic(path, report, indent=2)
    logger.info("test ranking of %s  %s -> %s", energy.WEIGHT, _ranking_summary(ranking), path)
    return report


def _hard_negative_sampler(cfg, statistics) -> HardNegativeSampler:
    """The pretraining's negatives (ENERGY_MODEL.HARD_NEGATIVES; predicates only)."""
    negatives = cfg.ENERGY_MODEL.HARD_NEGATIVES
    num_obj = cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES
    num_rel = cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    prior = (LabelPrior.from_statistics(statistics, num_obj, num_rel)
             if negatives.SOURCE == "frequency" else None)
    return HardNegativeSampler(
        num=negatives.NUM, num_changes=tuple(negatives.NUM_CHANGES), source=negatives.SOURCE,
        change_nodes=False, num_obj_classes=num_obj, num_rel_classes=num_rel, prior=prior,
        additions=negatives.ADDITIONS, deletions=negatives.DELETIONS)


def _datasets(cfg, names, num_rel: int, is_train: bool) -> list:
    datasets = build_dataset(cfg, names, is_train=is_train)
    for name, dataset in zip(names, datasets):
        if len(dataset.ind_to_predicates) != num_rel:
            raise ValueError(
                f"Dataset {name} has {len(dataset.ind_to_predicates)} predicate classes (with "
                f"background) but MODEL.ROI_RELATION_HEAD.NUM_CLASSES is {num_rel}; set it to "
                f"{len(dataset.ind_to_predicates)}")
    return datasets


def _ranking_set(cfg, names, num_obj: int, num_rel: int, statistics,
                 sampler: HardNegativeSampler) -> RankingSet:
    """The fixed ranking-test graphs and copies of the datasets ``names`` (seeded by SEED)."""
    datasets = _datasets(cfg, names, num_rel, is_train=False)
    state = get_rng_state()
    try:
        seed_all_rng(cfg.SEED)
        graphs: list[GTGraph] = []
        for dataset in datasets:
            graphs += load_gt_graphs(dataset, cfg.ENERGY_MODEL.PRETRAIN.MAX_PAIRS)
    finally:
        set_rng_state(state)
    rules = SceneRules.for_dataset(datasets[0].ind_to_classes, datasets[0].ind_to_predicates)
    return build_ranking_set(graphs, num_obj_classes=num_obj,
                             predicate_weights=statistics.predicate_counts.double(),
                             sampler=sampler, rules=rules, seed=cfg.SEED)


def _settings(cfg) -> dict[str, Any]:
    energy = cfg.ENERGY_MODEL
    return {"train": list(cfg.DATASETS.TRAIN), "val": list(cfg.DATASETS.VAL),
            "test": list(cfg.DATASETS.TEST), "seed": cfg.SEED, "loss": energy.LOSS,
            "margin": energy.MARGIN, "temperature": energy.TEMP,
            "l2coeff": energy.L2COEFF,
            "l2_reduction": energy.L2_REDUCTION, "data_noise": energy.DATA_NOISE_VAR,
            "hard_negatives": energy.HARD_NEGATIVES.NUM,
            "num_changes": list(energy.HARD_NEGATIVES.NUM_CHANGES),
            "source": energy.HARD_NEGATIVES.SOURCE,
            "additions": energy.HARD_NEGATIVES.ADDITIONS,
            "deletions": energy.HARD_NEGATIVES.DELETIONS, "epochs": energy.PRETRAIN.EPOCHS,
            "lr": energy.PRETRAIN.LR, "batch_size": energy.PRETRAIN.BATCH_SIZE,
            "max_pairs": energy.PRETRAIN.MAX_PAIRS, "device": cfg.MODEL.DEVICE,
            "threads": torch.get_num_threads()}


def _ranking_summary(ranking: dict[str, dict]) -> str:
    return "  ".join(
        f"{kind} k=" + "/".join(ranking[kind]["accuracy"]) + " "
        + "/".join(f"{value:.3f}" for value in ranking[kind]["accuracy"].values())
        for kind in ranking)


def _summary(record: dict[str, Any]) -> str:
    text = (f"loss {record['loss']:.4f}  E+ {record['positive']:.4f}  "
            f"E- {record['negative']:.4f}  train rank {record['train_ranking']:.3f}")
    if record.get("margin_active") is not None:
        text += f"  margin active {record['margin_active']:.3f}"
    if "val" in record:
        text += "  val " + _ranking_summary(record["val"])
    return text + f"  ({record['time_s']:.1f} s)"


def _flat(record: dict[str, Any]) -> dict[str, float]:
    """Scalars of an epoch record: losses and energies, ``val/<kind>/k<k>`` accuracies."""
    flat = {key: float(value) for key, value in record.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}
    for kind, result in record.get("val", {}).items():
        for k, value in result["accuracy"].items():
            flat[f"val/{kind}/k{k}"] = float(value)
    return flat


def _tensorboard(output_dir: str):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(os.path.join(output_dir, "tensorboard"))


def _write_scalars(writer, record: dict[str, Any], epoch: int) -> None:
    for name, value in _flat(record).items():
        if name != "epoch":
            writer.add_scalar(f"energy_pretrain/{name}", value, epoch)
    writer.flush()
