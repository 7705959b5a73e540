"""Training hooks: checkpointing, validation with the plateau schedule, logging, TensorBoard."""

from __future__ import annotations

import datetime
import logging
import os
import random
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from maskrcnn_benchmark.utils.checkpoint import Checkpointer
from maskrcnn_benchmark.utils.comm import all_gather, is_main_process
from maskrcnn_benchmark.utils.env import get_rng_state

from .trainer import HookBase

__all__ = ["PeriodicCheckpointer", "EvalHook", "PeriodicWriter", "preserve_rng_state"]

logger = logging.getLogger(__name__)


@contextmanager
def preserve_rng_state() -> Iterator[None]:
    """Run a block (validation) without changing any RNG stream of training."""
    py_state, np_state = random.getstate(), np.random.get_state()
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if cuda else []):
        yield
    random.setstate(py_state)
    np.random.set_state(np_state)


def _scalar(value: float) -> str:
    """4 decimals, or 3 significant digits below 1e-3 (e.g. energy/grad_ratio at saturation)."""
    return f"{value:.3e}" if value != 0 and abs(value) < 1e-3 else f"{value:.4f}"


class PeriodicCheckpointer(HookBase):
    """Save ``model_{iter:07d}`` every ``period`` iterations and ``model_final`` at the end."""

    def __init__(self, checkpointer: Checkpointer, period: int) -> None:
        self.checkpointer = checkpointer
        self.period = period

    def _save(self, name: str, done: int) -> None:
        # ``iteration`` = steps done = where a resumed run starts; one RNG state per rank
        rng = all_gather(get_rng_state())
        self.checkpointer.save(name, iteration=done, rng=rng)

    def after_step(self) -> None:
        """Checkpoint on period boundaries."""
        done = self.trainer.iter + 1
        if self.period > 0 and done % self.period == 0 and done < self.trainer.max_iter:
            self._save(f"model_{done:07d}", done)

    def after_train(self) -> None:
        """Final checkpoint (also after an early plateau stop)."""
        if self.trainer.iter > self.trainer.start_iter:
            self._save("model_final", self.trainer.iter)


class EvalHook(HookBase):
    """Validate every ``period`` iterations (and before training); drive the plateau schedule.

    ``eval_fn()`` returns the validation score (e.g. R@100 or mR@100). With
    WarmupReduceLROnPlateau the score is reported to the scheduler and training stops after its
    last decay stage. Validation never changes the training RNG streams.
    """

    def __init__(self, period: int, eval_fn: Callable[[], float], pre_val: bool = False) -> None:
        self.period = period
        self.eval_fn = eval_fn
        self.pre_val = pre_val
        self.history: list[tuple[int, float]] = []

    def _evaluate(self, iteration: int) -> None:
        with preserve_rng_state():
            score = float(self.eval_fn())
        self.trainer.model.train()
        self.history.append((iteration, score))
        self.trainer.storage.put_scalar("val/score", score)
        logger.info("Validation at iteration %d: score %.4f", iteration, score)
        scheduler = self.trainer.scheduler
        if hasattr(scheduler, "report"):
            if scheduler.report(score):
                logger.info("Validation plateaued: learning rate decayed (stage %d of %d)",
                            scheduler.stage_count, scheduler.max_decay_step)
            if scheduler.should_stop:
                logger.info("Reached SOLVER.SCHEDULE.MAX_DECAY_STEP; stopping training")
                self.trainer.stop_requested = True

    def before_train(self) -> None:
        """Validate before the first step when asked (fresh runs only)."""
        if self.pre_val and self.trainer.start_iter == 0:
            self._evaluate(0)

    def after_step(self) -> None:
        """Validate on period boundaries."""
        done = self.trainer.iter + 1
        if self.period > 0 and done % self.period == 0:
            self._evaluate(done)


class PeriodicWriter(HookBase):
    """Log a status line and TensorBoard scalars every ``period`` iterations (rank 0)."""

    def __init__(self, period: int, output_dir: str | None = None) -> None:
        self.period = period
        self.output_dir = output_dir
        self._tb: Any = None
        self._start = 0.0
        self._start_iter = 0

    def before_train(self) -> None:
        """Open the TensorBoard writer."""
        self._start, self._start_iter = time.perf_counter(), self.trainer.iter
        if self.output_dir and is_main_process():
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(os.path.join(self.output_dir, "tensorboard"))

    def after_step(self) -> None:
        """Write on period boundaries and at the last iteration."""
        done = self.trainer.iter + 1
        if done % self.period == 0 or done == self.trainer.max_iter:
            self.write(done)

    def write(self, done: int) -> None:
        """Emit the status line for ``done`` completed iterations."""
        storage = self.trainer.storage
        names = storage.names()
        if not names or not is_main_process():
            return
        elapsed = time.perf_counter() - self._start
        per_iter = elapsed / max(done - self._start_iter, 1)
        eta = datetime.timedelta(seconds=int(per_iter * (self.trainer.max_iter - done)))
        losses = "  ".join(f"{n}: {storage.median(n):.4f}" for n in names
                           if n.startswith("loss") or n == "total_loss")
        extras = "  ".join(f"{n}: {_scalar(storage.median(n))}" for n in names
                           if "/" in n and not n.startswith("val/"))
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            memory = f"  max mem: {torch.cuda.max_memory_allocated() / 2**20:.0f}M"
        else:  # peak resident memory of this process (Linux reports KiB)
            memory = f"  max rss: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}M"
        logger.info(
            "iter: %d/%d  eta: %s  %s  %s  time: %.4f  data: %.4f  lr: %.6f%s",
            done, self.trainer.max_iter, eta, losses, extras, storage.median("time"),
            storage.median("data_time"), storage.latest()["lr"][0], memory,
        )
        if self._tb is not None:
            for name, (value, it) in storage.latest().items():
                self._tb.add_scalar(name, value, it + 1)

    def after_train(self) -> None:
        """Close the TensorBoard writer."""
        if self._tb is not None:
            self._tb.close()
