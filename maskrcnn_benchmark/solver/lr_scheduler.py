"""Warm-up learning-rate schedules of SGB, stepped once per iteration after the optimizer.

lr(i) = group base lr x warmup(i) x decay, where warmup rises linearly from WARMUP_FACTOR at
iteration 0 to 1 at WARMUP_ITERS ("constant": WARMUP_FACTOR until WARMUP_ITERS), and decay is
GAMMA^(milestones passed) for WarmupMultiStepLR or FACTOR^(stages) for WarmupReduceLROnPlateau.
"""

from __future__ import annotations

import abc
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["WarmupMultiStepLR", "WarmupReduceLROnPlateau"]


class _WarmupSchedule(abc.ABC):
    """Shared warm-up logic; subclasses define ``decay()``."""

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_factor: float,
                 warmup_iters: int, warmup_method: str) -> None:
        if warmup_method not in ("constant", "linear"):
            raise ValueError(f"SOLVER.WARMUP_METHOD must be 'constant' or 'linear', "
                             f"got {warmup_method!r}")
        self.optimizer = optimizer
        self.warmup_factor = warmup_factor
        self.warmup_iters = warmup_iters
        self.warmup_method = warmup_method
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0  # iterations completed
        self._apply()

    def warmup(self) -> float:
        """Warm-up multiplier at the current iteration."""
        if self.last_epoch >= self.warmup_iters:
            return 1.0
        if self.warmup_method == "constant":
            return self.warmup_factor
        alpha = self.last_epoch / self.warmup_iters
        return self.warmup_factor * (1 - alpha) + alpha

    @abc.abstractmethod
    def decay(self) -> float:
        """Decay multiplier at the current iteration."""

    def get_last_lr(self) -> list[float]:
        """Learning rate of each parameter group now."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def _apply(self) -> None:
        factor = self.warmup() * self.decay()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor

    def set_iteration(self, iteration: int) -> None:
        """Jump to ``iteration`` (used when a resumed run rebuilds its schedule)."""
        self.last_epoch = iteration
        self._apply()

    def step(self) -> None:
        """Advance one iteration."""
        self.last_epoch += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from ``state_dict``."""
        self.__dict__.update(state)
        self._apply()


class WarmupMultiStepLR(_WarmupSchedule):
    """Warm-up, then multiply by ``gamma`` at each milestone iteration."""

    def __init__(self, optimizer: torch.optim.Optimizer, milestones: Sequence[int],
                 gamma: float = 0.1, warmup_factor: float = 1.0 / 3, warmup_iters: int = 500,
                 warmup_method: str = "linear") -> None:
        if list(milestones) != sorted(milestones):
            raise ValueError(f"SOLVER.STEPS must be increasing, got {tuple(milestones)}")
        self.milestones = list(milestones)
        self.gamma = gamma
        super().__init__(optimizer, warmup_factor, warmup_iters, warmup_method)

    def decay(self) -> float:
        """gamma ** (milestones passed)."""
        return self.gamma ** bisect_right(self.milestones, self.last_epoch)

    @property
    def should_stop(self) -> bool:
        """Multi-step schedules never end training early."""
        return False


class WarmupReduceLROnPlateau(_WarmupSchedule):
    """Warm-up, then multiply by ``factor`` each time the validation score stops improving.

    ``step()`` advances an iteration; ``report(score)`` records a validation result. A score
    counts as an improvement when it exceeds the best by more than ``threshold``; after
    ``patience`` validations without one, a decay stage starts, followed by ``cooldown``
    validations during which bad results are not counted. Training stops after
    ``max_decay_step`` stages (SGB's SCHEDULE.MAX_DECAY_STEP).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, factor: float = 0.5,
                 warmup_factor: float = 1.0 / 3, warmup_iters: int = 500,
                 warmup_method: str = "linear", patience: int = 2, threshold: float = 1e-4,
                 cooldown: int = 1, max_decay_step: int = 7) -> None:
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.cooldown = cooldown
        self.max_decay_step = max_decay_step
        self.stage_count = 0
        self.best = -float("inf")
        self.num_bad_epochs = 0
        self.under_cooldown = cooldown
        super().__init__(optimizer, warmup_factor, warmup_iters, warmup_method)

    def decay(self) -> float:
        """factor ** stages."""
        return self.factor ** self.stage_count

    def report(self, score: float) -> bool:
        """Record a validation score; return True when it triggered a decay stage."""
        if score > self.best + self.threshold:
            self.best = score
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.under_cooldown > 0:
            self.under_cooldown -= 1
            self.num_bad_epochs = 0
        decayed = False
        if self.num_bad_epochs >= self.patience:
            self.stage_count += 1
            self.under_cooldown = self.cooldown
            self.num_bad_epochs = 0
            decayed = True
        self._apply()
        return decayed

    @property
    def should_stop(self) -> bool:
        """Whether MAX_DECAY_STEP decay stages have happened."""
        return self.stage_count >= self.max_decay_step
