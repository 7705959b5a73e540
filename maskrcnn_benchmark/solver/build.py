"""Optimizer and schedule from config, with SGB's learning-rate rules."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn

from .lr_scheduler import WarmupMultiStepLR, WarmupReduceLROnPlateau

__all__ = ["make_optimizer", "make_lr_scheduler", "parameter_group_name"]

logger = logging.getLogger(__name__)


def parameter_group_name(param_name: str) -> str:
    """Clipping group of a parameter: 'energy' for the energy model, else 'model'."""
    return "energy" if param_name.startswith(("energy_model.", "module.energy_model.")) else "model"


def make_optimizer(cfg, model: nn.Module, slow_heads: Sequence[str] = (),
                   slow_ratio: float = 10.0) -> torch.optim.SGD:
    """SGD over trainable parameters only, with SGB's rules.

    lr = BASE_LR x IMS_PER_BATCH (SGB's per-image rule); biases use BIAS_LR_FACTOR and
    WEIGHT_DECAY_BIAS; the energy model's parameters are scaled by ENERGY_LR_FACTOR;
    parameters whose name contains one of ``slow_heads`` get lr / slow_ratio
    (IMP's feature extractors). Parameters are grouped by (clipping group, lr, weight decay); each
    group carries a ``name`` ("model" or "energy") used for per-group gradient clipping.
    """
    solver = cfg.SOLVER
    scale = float(solver.IMS_PER_BATCH)
    groups: dict[tuple[str, float, float], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        lr, weight_decay = solver.BASE_LR, solver.WEIGHT_DECAY
        if "bias" in name:
            lr, weight_decay = solver.BASE_LR * solver.BIAS_LR_FACTOR, solver.WEIGHT_DECAY_BIAS
        if any(head in name for head in slow_heads):
            lr /= slow_ratio
        group = parameter_group_name(name)
        if group == "energy":
            lr *= solver.ENERGY_LR_FACTOR
        groups.setdefault((group, lr * scale, weight_decay), []).append(param)
    if not groups:
        raise ValueError("The model has no trainable parameters; nothing to optimise")
    param_groups = [{"params": params, "lr": lr, "weight_decay": wd, "name": group}
                    for (group, lr, wd), params in groups.items()]
    for g in param_groups:
        logger.info("optimizer group %s: %d tensors, lr %.3g, weight decay %.3g",
                    g["name"], len(g["params"]), g["lr"], g["weight_decay"])
    return torch.optim.SGD(param_groups, lr=solver.BASE_LR * scale, momentum=solver.MOMENTUM)


def make_lr_scheduler(cfg, optimizer: torch.optim.Optimizer):
    """WarmupMultiStepLR or WarmupReduceLROnPlateau from SOLVER.SCHEDULE.TYPE."""
    solver = cfg.SOLVER
    schedule = solver.SCHEDULE
    if schedule.TYPE == "WarmupMultiStepLR":
        return WarmupMultiStepLR(optimizer, solver.STEPS, solver.GAMMA,
                                 warmup_factor=solver.WARMUP_FACTOR,
                                 warmup_iters=solver.WARMUP_ITERS,
                                 warmup_method=solver.WARMUP_METHOD)
    if schedule.TYPE == "WarmupReduceLROnPlateau":
        return WarmupReduceLROnPlateau(optimizer, schedule.FACTOR,
                                       warmup_factor=solver.WARMUP_FACTOR,
                                       warmup_iters=solver.WARMUP_ITERS,
                                       warmup_method=solver.WARMUP_METHOD,
                                       patience=schedule.PATIENCE, threshold=schedule.THRESHOLD,
                                       cooldown=schedule.COOLDOWN,
                                       max_decay_step=schedule.MAX_DECAY_STEP)
    raise ValueError(f"SOLVER.SCHEDULE.TYPE must be 'WarmupMultiStepLR' or "
                     f"'WarmupReduceLROnPlateau', got {schedule.TYPE!r}")
