"""Iteration-based training loop with hooks (detector pretraining and relation training).

``Trainer.run_step`` does one iteration: next batch -> ``loss_dict = model(images, targets)``
under ``torch.autocast`` (DTYPE) -> sum of the ``loss_*`` entries -> backward (with a grad
scaler for float16) -> gradient-norm clipping per optimizer group name ("model", "energy") ->
optimizer step -> scheduler step. Hooks (``engine/hooks.py``) add checkpointing, validation,
logging and TensorBoard around it.

Resuming is exact: checkpoints store the iteration and every RNG state, the data loader starts
at the saved iteration, and the RNG state is restored after the loader's iterator exists.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from maskrcnn_benchmark.utils.comm import get_rank, get_world_size, reduce_dict
from maskrcnn_benchmark.utils.env import set_rng_state
from maskrcnn_benchmark.utils.events import EventStorage

__all__ = ["HookBase", "Trainer", "AMP_DTYPES", "make_grad_scaler"]

logger = logging.getLogger(__name__)

AMP_DTYPES = {"float32": None, "float16": torch.float16, "bfloat16": torch.bfloat16}


def make_grad_scaler(dtype: str, device_type: str) -> torch.amp.GradScaler:
    """A gradient scaler, active only for float16 (bfloat16 and float32 need none)."""
    return torch.amp.GradScaler(device_type, enabled=dtype == "float16")


class HookBase:
    """Called around training; ``self.trainer`` is a weak proxy to the running Trainer."""

    trainer: Trainer

    def before_train(self) -> None:
        """Before the first iteration."""

    def after_train(self) -> None:
        """After the last iteration (also after an early stop)."""

    def before_step(self) -> None:
        """Before each iteration."""

    def after_step(self) -> None:
        """After each iteration; ``trainer.iter`` is the iteration just done (0-based)."""


class Trainer:
    """Runs ``max_iter - start_iter`` iterations of ``run_step`` with hooks."""

    def __init__(
        self,
        model: nn.Module,
        data_loader: Iterable,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        *,
        max_iter: int,
        device: torch.device | str,
        start_iter: int = 0,
        grad_clip: float = 0.0,
        dtype: str = "float32",
        grad_log_period: int = 0,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        if dtype not in AMP_DTYPES:
            raise ValueError(f"DTYPE must be one of {sorted(AMP_DTYPES)}, got {dtype!r}")
        self.model = model
        self.data_loader = data_loader
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.max_iter = max_iter
        self.start_iter = start_iter
        self.iter = start_iter
        self.device = torch.device(device)
        self.grad_clip = grad_clip
        self.amp_dtype = AMP_DTYPES[dtype]
        self.scaler = scaler or make_grad_scaler(dtype, self.device.type)
        self.grad_log_period = grad_log_period
        self.hooks: list[HookBase] = []
        self.stop_requested = False
        self.storage = EventStorage(start_iter)
        self._resume_rng: dict[str, Any] | None = None
        self._data_iter: Any = None

    def register_hooks(self, hooks: Iterable[HookBase | None]) -> None:
        """Add hooks (None entries are skipped); they run in the given order."""
        for hook in hooks:
            if hook is None:
                continue
            hook.trainer = weakref.proxy(self)
            self.hooks.append(hook)

    def resume_rng_state(self, states: list[dict[str, Any]] | None) -> None:
        """Per-rank RNG states (from a checkpoint) to restore once the data iterator exists."""
        if not states:
            self._resume_rng = None
        elif len(states) == get_world_size():
            self._resume_rng = states[get_rank()]
        else:
            logger.warning("Checkpoint holds RNG states of %d processes, this run has %d: "
                           "random streams are re-seeded, so the resume is not bit-exact",
                           len(states), get_world_size())
            self._resume_rng = None

    def train(self) -> None:
        """Run the loop; stops at ``max_iter`` or when a hook sets ``stop_requested``."""
        logger.info("Starting training from iteration %d to %d", self.start_iter, self.max_iter)
        self._data_iter = iter(self.data_loader)
        if self._resume_rng is not None:
            set_rng_state(self._resume_rng)
        self.model.train()
        with self.storage:
            for hook in self.hooks:
                hook.before_train()
            try:
                while self.iter < self.max_iter and not self.stop_requested:
                    for hook in self.hooks:
                        hook.before_step()
                    self.run_step()
                    for hook in self.hooks:
                        hook.after_step()
                    self.iter += 1
            finally:
                self.storage.iter = self.iter
                for hook in self.hooks:
                    hook.after_train()

    def run_step(self) -> None:
        """One optimisation step on the next batch."""
        self.storage.iter = self.iter
        start = time.perf_counter()
        images, targets, _ = next(self._data_iter)
        images = images.to(self.device)
        targets = [t.to(self.device) for t in targets]
        data_time = time.perf_counter() - start

        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            loss_dict = self.model(images, targets)
        loss_dict = {k: v for k, v in loss_dict.items() if k.startswith("loss")}
        losses = sum(v.float() for v in loss_dict.values())
        if not torch.isfinite(losses):
            shown = {k: float(v.detach()) for k, v in loss_dict.items()}
            raise FloatingPointError(
                f"Loss became non-finite at iteration {self.iter}: {shown}. Lower SOLVER.BASE_LR "
                "or check the data; checkpoints already written are intact."
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses).backward()
        self.scaler.unscale_(self.optimizer)
        norms = self._clip_gradients()
        if not self.scaler.is_enabled():  # the float16 scaler skips such a step by itself
            self._check_gradient_norms(norms, loss_dict)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()

        reduced = reduce_dict({k: v.detach() for k, v in loss_dict.items()})
        self.storage.put_scalars(
            total_loss=sum(float(v) for v in reduced.values()),
            data_time=data_time,
            time=time.perf_counter() - start,
            lr=self.optimizer.param_groups[0]["lr"],
            **{k: float(v) for k, v in reduced.items()},
            **{f"grad_norm/{k}": v for k, v in norms.items()},
        )
        if self.grad_log_period and (self.iter + 1) % self.grad_log_period == 0:
            self._log_parameter_grad_norms()

    def _clip_gradients(self) -> dict[str, float]:
        """Clip the gradient norm of each named group separately; return the pre-clip norms."""
        by_name: dict[str, list[torch.Tensor]] = {}
        for group in self.optimizer.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            by_name.setdefault(group.get("name", "model"), []).extend(params)
        norms = {}
        for name, params in by_name.items():
            if not params:
                continue
            max_norm = self.grad_clip if self.grad_clip > 0 else math.inf
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
            norms[name] = float(norm)
        return norms

    def _check_gradient_norms(self, norms: dict[str, float],
                              loss_dict: dict[str, torch.Tensor]) -> None:
        """One clear error, before the step, where a finite loss gave a non-finite gradient
        (clipping would turn the weights into NaN and the error would surface steps later)."""
        bad = {name: norm for name, norm in norms.items() if not math.isfinite(norm)}
        if bad:
            shown = {k: round(float(v.detach()), 4) for k, v in loss_dict.items()}
            raise FloatingPointError(
                f"Gradient norm became non-finite at iteration {self.iter} ({bad}) with finite "
                f"losses {shown}; the step was not applied and checkpoints already written are "
                "intact. Usual cause: an untrained frozen detector (MODEL.PRETRAINED_DETECTOR_CKPT "
                "empty or random weights) whose unbounded features overflow the gradient; load a "
                "trained detector, or lower SOLVER.BASE_LR.")

    def _log_parameter_grad_norms(self) -> None:
        model = self.model.module if hasattr(self.model, "module") else self.model
        norms = sorted(((float(p.grad.norm()), n) for n, p in model.named_parameters()
                        if p.grad is not None), reverse=True)
        lines = "\n".join(f"    {norm:.4e}  {name}" for norm, name in norms)
        logger.info("Gradient norms at iteration %d (largest first):\n%s", self.iter + 1, lines)
