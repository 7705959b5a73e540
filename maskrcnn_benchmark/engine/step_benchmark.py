"""Seconds per relation training step of several variants of one config, interleaved in one
process on the same batches.

Every variant (a name and ``KEY VALUE`` overrides on a shared base config) gets its own model,
built with the same seed and initialised from MODEL.PRETRAINED_DETECTOR_CKPT, its own optimizer,
schedule and ``Trainer``, as tools/relation_train_net.py builds them. Batches are drawn once from
the base config's train loader. After ``warmup`` untimed rounds, each round runs one
``Trainer.run_step`` per variant on the round's batch (detector forward, relation head, losses,
the energy objective when MODEL.ENERGY_ON, backward, clipping, optimizer and scheduler step);
the variant that goes first rotates every round. Load drifts on a shared machine therefore hit
every variant alike, and the ratios to the first variant (the baseline) stay fair.
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from maskrcnn_benchmark.config import CfgNode
from maskrcnn_benchmark.data import make_data_loader
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.roi_heads.relation_head import relation_slow_heads
from maskrcnn_benchmark.solver import make_lr_scheduler, make_optimizer
from maskrcnn_benchmark.utils.atomic_json import write_json_atomic
from maskrcnn_benchmark.utils.checkpoint import RELATION_LOAD_MAPPING, Checkpointer
from maskrcnn_benchmark.utils.env import get_rng_state, seed_all_rng, set_rng_state

from .launch import resolve_device
from .trainer import HookBase, Trainer, make_grad_scaler

__all__ = ["StepVariant", "StepBenchmarkError", "parse_variant", "variant_configs",
           "build_variant_trainer", "benchmark_training_steps", "format_step_table",
           "write_step_report", "SHARED_KEYS"]

logger = logging.getLogger(__name__)

# Keys every variant must share with the baseline: they decide the batches, which are drawn
# once from the baseline's train loader, and where the models run.
SHARED_KEYS = ("DATASETS", "INPUT", "DATALOADER", "SOLVER.IMS_PER_BATCH", "MODEL.DEVICE")


class StepBenchmarkError(ValueError):
    """A variant or benchmark setting that cannot be run (the message names it)."""


@dataclass(frozen=True)
class StepVariant:
    """One column of the benchmark: a name and the ``KEY VALUE`` overrides it adds."""

    name: str
    overrides: tuple[str, ...] = ()


def parse_variant(tokens: Sequence[str]) -> StepVariant:
    """``[NAME, KEY, VALUE, ...]`` (one ``--variant`` of the tool) as a StepVariant."""
    if not tokens:
        raise StepBenchmarkError("--variant needs a name, e.g. --variant ebm MODEL.ENERGY_ON True")
    name, overrides = tokens[0], tuple(tokens[1:])
    if "." in name or name.startswith("-"):
        raise StepBenchmarkError(f"variant name {name!r} looks like a config key or flag; write "
                                 "--variant NAME KEY VALUE ..., e.g. --variant ce "
                                 "MODEL.ENERGY_ON False")
    if len(overrides) % 2:
        raise StepBenchmarkError(f"variant {name!r}: overrides must come in KEY VALUE pairs, got "
                                 f"{list(overrides)}")
    return StepVariant(name, overrides)


def _lookup(cfg: CfgNode, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = node[part]
    return node


def variant_configs(base: CfgNode, variants: Sequence[StepVariant]) -> list[CfgNode]:
    """The config of every variant (``base`` + its overrides); a bad variant is one error
    naming it. All configs are checked before anything is built."""
    if not variants:
        raise StepBenchmarkError("no variants: give at least one --variant (or --plan-variants)")
    names = [v.name for v in variants]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise StepBenchmarkError(f"variant names must be unique; repeated: {repeated}")
    if not base.MODEL.RELATION_ON:
        raise StepBenchmarkError("the step benchmark times relation training and needs "
                                 "MODEL.RELATION_ON True")
    cfgs = []
    for variant in variants:
        cfg = base.clone()
        try:
            cfg.merge_from_list(list(variant.overrides))
        except (KeyError, ValueError, TypeError, AssertionError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise StepBenchmarkError(f"variant {variant.name!r}: bad override "
                                     f"{list(variant.overrides)}: {message}") from err
        changed = [key for key in SHARED_KEYS if _lookup(cfg, key) != _lookup(base, key)]
        if changed:
            raise StepBenchmarkError(
                f"variant {variant.name!r} changes {changed}; every variant runs on the same "
                "batches and device, so put these keys in the common overrides instead")
        cfg.freeze()
        cfgs.append(cfg)
    return cfgs


class _StagedBatch:
    """The data loader of a variant's Trainer: serves the one batch staged for its next step."""

    def __init__(self) -> None:
        self._batch: Any = None
        self.served_ids: list[list[int]] = []

    def stage(self, batch: Any) -> None:
        # a private copy per variant and step, so one model's in-place changes never reach
        # another; copied outside the timed step
        self._batch = copy.deepcopy(batch)

    def __iter__(self) -> _StagedBatch:
        return self

    def __next__(self) -> Any:
        if self._batch is None:
            raise RuntimeError("no batch staged for this training step")
        batch, self._batch = self._batch, None
        self.served_ids.append([int(i) for i in batch[2]])
        return batch


class _StepClock(HookBase):
    """Wall time of every ``run_step`` (the device synchronised on both ends)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: list[float] = []
        self._start = 0.0

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def before_step(self) -> None:
        self._sync()
        self._start = time.perf_counter()

    def after_step(self) -> None:
        self._sync()
        self.times.append(time.perf_counter() - self._start)


def build_variant_trainer(cfg: CfgNode, data_loader: Any) -> Trainer:
    """A Trainer over a freshly seeded model of ``cfg`` as tools/relation_train_net.py starts
    one (detector checkpoint through the relation load mapping, SGB's optimizer rules and
    schedule), reading batches from ``data_loader``; no hooks, nothing written."""
    device = resolve_device(cfg.MODEL.DEVICE)
    seed_all_rng(cfg.SEED)
    model = build_detection_model(cfg, get_dataset_statistics(cfg)).to(device)
    optimizer = make_optimizer(cfg, model, slow_heads=relation_slow_heads(model))
    scheduler = make_lr_scheduler(cfg, optimizer)
    scaler = make_grad_scaler(cfg.DTYPE, torch.device(device).type)
    if cfg.MODEL.PRETRAINED_DETECTOR_CKPT:
        Checkpointer(model).load(cfg.MODEL.PRETRAINED_DETECTOR_CKPT, use_latest=False,
                                 load_mapping=RELATION_LOAD_MAPPING, with_optim=False)
    else:
        logger.warning("MODEL.PRETRAINED_DETECTOR_CKPT is empty: the detector keeps its random "
                       "initialisation (timings are still representative)")
    return Trainer(model, data_loader, optimizer, scheduler, max_iter=0, device=device,
                   grad_clip=cfg.SOLVER.GRAD_NORM_CLIP, dtype=cfg.DTYPE, scaler=scaler)


class _VariantRun:
    """One variant's trainer, its RNG stream and its step times."""

    def __init__(self, variant: StepVariant, cfg: CfgNode) -> None:
        self.variant = variant
        self.feeder = _StagedBatch()
        try:
            self.trainer = build_variant_trainer(cfg, self.feeder)
        except Exception as err:  # any build failure is reported with the variant's name
            raise StepBenchmarkError(f"variant {variant.name!r} ({list(variant.overrides)}) "
                                     f"could not be built: {err}") from err
        self.clock = _StepClock(self.trainer.device)
        self.trainer.register_hooks([self.clock])
        self.rng = get_rng_state()  # right after the seeded build: same start for every variant

    def step(self, batch: Any) -> None:
        """One training step on ``batch`` through the Trainer's own loop."""
        set_rng_state(self.rng)
        self.feeder.stage(batch)
        self.trainer.max_iter = self.trainer.iter + 1
        try:
            self.trainer.train()
        except Exception as err:
            raise StepBenchmarkError(f"variant {self.variant.name!r} failed at step "
                                     f"{self.trainer.iter}: {err}") from err
        self.rng = get_rng_state()

    def summary(self, warmup: int, baseline: list[float] | None) -> dict[str, Any]:
        timed = self.clock.times[warmup:]
        model = self.trainer.model
        row = {
            "name": self.variant.name,
            "overrides": list(self.variant.overrides),
            "median_s": statistics.median(timed),
            "mean_s": statistics.fmean(timed),
            "step_s": timed,
            "loss_names": sorted(k for k in self.trainer.storage.names() if k.startswith("loss")),
            "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "batch_ids": self.feeder.served_ids,
        }
        base = baseline if baseline is not None else timed
        row["ratio_median"] = row["median_s"] / statistics.median(base)
        row["ratio_mean"] = row["mean_s"] / statistics.fmean(base)
        paired = [t / b for t, b in zip(timed, base)]
        row["ratio_paired_median"] = statistics.median(paired)
        row["ratio_paired_quartiles"] = (statistics.quantiles(paired, n=4)[::2]
                                         if len(paired) > 1 else paired * 2)
        return row


def _draw_batches(cfg: CfgNode, count: int) -> list[Any]:
    """The first ``count`` batches of the train loader of ``cfg`` (seeded by SEED)."""
    data_cfg = cfg.clone()
    data_cfg.defrost()
    data_cfg.SOLVER.MAX_ITER = max(count, cfg.SOLVER.MAX_ITER)
    seed_all_rng(cfg.SEED)
    loader = make_data_loader(data_cfg, "train", False, start_iter=0)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == count:
            break
    return batches


def benchmark_training_steps(base: CfgNode, variants: Sequence[StepVariant], steps: int,
                             warmup: int = 3) -> dict[str, Any]:
    """Time ``steps`` training steps of every variant (after ``warmup`` untimed ones),
    interleaved round-robin on shared batches; returns the report (see write_step_report)."""
    if steps < 1 or warmup < 0:
        raise StepBenchmarkError(f"need steps >= 1 and warmup >= 0, got {steps} and {warmup}")
    cfgs = variant_configs(base, variants)
    rounds = warmup + steps
    batches = _draw_batches(cfgs[0], rounds)
    logger.info("Drew %d batches of %d images from %s", len(batches),
                cfgs[0].SOLVER.IMS_PER_BATCH, ", ".join(cfgs[0].DATASETS.TRAIN))
    runs = [_VariantRun(v, c) for v, c in zip(variants, cfgs)]
    order = []
    for r in range(rounds):
        for k in range(len(runs)):
            run = runs[(r + k) % len(runs)]
            run.step(batches[r])
            order.append(run.variant.name)
        if r + 1 == warmup:
            logger.info("Warm-up done (%d steps per variant)", warmup)
        elif r >= warmup:
            logger.info("Round %d/%d: %s", r - warmup + 1, steps, ", ".join(
                f"{run.variant.name} {run.clock.times[-1]:.3f}s" for run in runs))
    baseline = runs[0].clock.times[warmup:]
    rows = [run.summary(warmup, None if i == 0 else baseline) for i, run in enumerate(runs)]
    return {
        "steps": steps,
        "warmup": warmup,
        "device": str(runs[0].trainer.device),
        "torch_threads": torch.get_num_threads(),
        "images_per_step": cfgs[0].SOLVER.IMS_PER_BATCH,
        "train_datasets": list(cfgs[0].DATASETS.TRAIN),
        "detector_checkpoint": cfgs[0].MODEL.PRETRAINED_DETECTOR_CKPT,
        "schedule": "round-robin over variants on the same batch each round, first variant "
                    "rotating, after the warm-up rounds",
        "baseline": runs[0].variant.name,
        "order": order,
        "variants": rows,
    }


def format_step_table(report: dict[str, Any]) -> str:
    """The report as a Markdown table (seconds per step and ratios to the baseline)."""
    lines = [f"| variant | median s/step | mean s/step | median / {report['baseline']} | "
             f"mean / {report['baseline']} | per-round ratio, median (quartiles) |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in report["variants"]:
        q1, q3 = row["ratio_paired_quartiles"]
        lines.append(f"| {row['name']} | {row['median_s']:.3f} | {row['mean_s']:.3f} | "
                     f"{row['ratio_median']:.2f} | {row['ratio_mean']:.2f} | "
                     f"{row['ratio_paired_median']:.2f} ({q1:.2f}-{q3:.2f}) |")
    return "\n".join(lines)


def write_step_report(report: dict[str, Any], path: str) -> None:
    """Write the report as JSON, atomically (an earlier file is replaced only when complete)."""
    write_json_atomic(path, report, indent=1)
    logger.info("Wrote %s", path)
