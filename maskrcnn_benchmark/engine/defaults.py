"""The training set-up shared by the tools: optimizer, schedule, checkpoints, resume, hooks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import nn

from maskrcnn_benchmark.data import make_data_loader
from maskrcnn_benchmark.modeling.energy.pretrained import load_pretrained_energy_model
from maskrcnn_benchmark.solver import make_lr_scheduler, make_optimizer
from maskrcnn_benchmark.utils.checkpoint import Checkpointer
from maskrcnn_benchmark.utils.comm import is_distributed

from .hooks import EvalHook, PeriodicCheckpointer, PeriodicWriter
from .launch import wrap_ddp
from .trainer import Trainer, make_grad_scaler

__all__ = ["build_trainer"]

logger = logging.getLogger(__name__)


def build_trainer(
    cfg,
    device: str,
    model: nn.Module,
    *,
    resume: bool,
    init_weights: str = "",
    load_mapping: dict[str, str] | None = None,
    slow_heads: Sequence[str] = (),
    validate: Callable[[], float] | None = None,
) -> tuple[Trainer, Checkpointer]:
    """A Trainer over ``model`` with SGB's optimizer rules, schedule and the standard hooks.

    With ``resume`` and a ``last_checkpoint`` in OUTPUT_DIR, training continues exactly where
    it stopped (weights, optimizer, schedule, grad scaler, iteration, RNG states). Otherwise
    ``init_weights`` (a detector checkpoint for relation training, MODEL.WEIGHT for detector
    pretraining) initialises the model through ``load_mapping``, then ENERGY_MODEL.WEIGHT its
    energy model. ``validate`` returns the validation score every SOLVER.VAL_PERIOD iterations
    (and before training with PRE_VAL); it drives WarmupReduceLROnPlateau.
    """
    solver = cfg.SOLVER
    optimizer = make_optimizer(cfg, model, slow_heads=slow_heads)
    scheduler = make_lr_scheduler(cfg, optimizer)
    scaler = make_grad_scaler(cfg.DTYPE, torch.device(device).type)
    checkpointer = Checkpointer(model, optimizer, scheduler, scaler, cfg.OUTPUT_DIR)
    if resume and checkpointer.has_checkpoint():
        configured_lrs = [group["lr"] for group in optimizer.param_groups]
        extra = checkpointer.load(use_latest=True)
        if cfg.ENERGY_MODEL.WEIGHT:
            logger.info("Resumed run: the checkpoint's energy model is kept, ENERGY_MODEL.WEIGHT "
                        "%s is not loaded", cfg.ENERGY_MODEL.WEIGHT)
        if solver.UPDATE_SCHEDULE_DURING_LOAD:
            # the current config's learning rates and schedule, at the saved iteration
            for group, lr in zip(optimizer.param_groups, configured_lrs):
                group["initial_lr"] = lr
            scheduler = make_lr_scheduler(cfg, optimizer)
            scheduler.set_iteration(int(extra.get("iteration", 0)))
            checkpointer.scheduler = scheduler
    else:
        if checkpointer.has_checkpoint():
            logger.info("--no-resume: ignoring the checkpoint in %s", cfg.OUTPUT_DIR)
        extra = {}
        if init_weights:
            checkpointer.load(init_weights, use_latest=False, load_mapping=load_mapping,
                              with_optim=False)
        # a pretrained energy model (tools/energy_pretrain_net.py); a resumed run keeps its own
        load_pretrained_energy_model(cfg, model)
    start_iter = int(extra.get("iteration", 0))
    trainer = Trainer(
        wrap_ddp(model, device), make_data_loader(cfg, "train", is_distributed(), start_iter),
        optimizer, scheduler, max_iter=solver.MAX_ITER, device=device, start_iter=start_iter,
        grad_clip=solver.GRAD_NORM_CLIP, dtype=cfg.DTYPE,
        grad_log_period=solver.PRINT_GRAD_FREQ, scaler=scaler,
    )
    trainer.resume_rng_state(extra.get("rng"))
    trainer.register_hooks([
        PeriodicCheckpointer(checkpointer, solver.CHECKPOINT_PERIOD),
        EvalHook(solver.VAL_PERIOD, validate, solver.PRE_VAL)
        if validate is not None and solver.TO_VAL else None,
        PeriodicWriter(solver.LOG_PERIOD, cfg.OUTPUT_DIR),
    ])
    return trainer, checkpointer
