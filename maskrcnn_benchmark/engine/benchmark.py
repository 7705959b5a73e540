"""Seconds per training iteration of a config, measured through the real training loop."""

from __future__ import annotations

import statistics
import time

import torch

from maskrcnn_benchmark.data import make_data_loader
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.solver import make_lr_scheduler, make_optimizer

from .trainer import HookBase, Trainer

__all__ = ["time_training_iterations"]


class _IterationClock(HookBase):
    """Wall time of every iteration (data loading included)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def before_step(self) -> None:
        self._start = time.perf_counter()

    def after_step(self) -> None:
        self.times.append(time.perf_counter() - self._start)


def time_training_iterations(cfg, iterations: int, warmup: int = 3) -> tuple[float, float]:
    """Median and mean seconds per iteration over ``iterations`` after ``warmup`` iterations.

    The model, optimizer, schedule, data loader and Trainer are the ones of
    tools/relation_train_net.py (no checkpoints, no validation), so the figure is what a
    training run spends per iteration.
    """
    torch.manual_seed(cfg.SEED)
    statistics_ = get_dataset_statistics(cfg) if cfg.MODEL.RELATION_ON else None
    model = build_detection_model(cfg, statistics_).to(cfg.MODEL.DEVICE)
    optimizer = make_optimizer(cfg, model)
    total = warmup + iterations
    loader = make_data_loader(cfg, "train", start_iter=cfg.SOLVER.MAX_ITER - total)
    trainer = Trainer(model, loader, optimizer, make_lr_scheduler(cfg, optimizer),
                      max_iter=cfg.SOLVER.MAX_ITER, start_iter=cfg.SOLVER.MAX_ITER - total,
                      device=cfg.MODEL.DEVICE, grad_clip=cfg.SOLVER.GRAD_NORM_CLIP,
                      dtype=cfg.DTYPE)
    clock = _IterationClock()
    trainer.register_hooks([clock])
    trainer.train()
    timed = clock.times[warmup:]
    return statistics.median(timed), statistics.fmean(timed)
