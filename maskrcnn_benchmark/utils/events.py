"""Training events: any module can record a scalar for the log and TensorBoard.

``get_event_storage().put_scalar("energy/positive", value)`` from anywhere inside a training
step; writers read the smoothed history. Outside training the storage is a no-op sink.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from typing import Any

__all__ = ["EventStorage", "get_event_storage"]

_CURRENT: list[EventStorage] = []


class EventStorage:
    """Scalars per name with a bounded history, indexed by training iteration."""

    def __init__(self, start_iter: int = 0, window: int = 20) -> None:
        self.iter = start_iter
        self.window = window
        self._history: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=window))
        self._latest: dict[str, tuple[float, int]] = {}
        self._counters: dict[str, int] = defaultdict(int)

    def put_scalar(self, name: str, value: Any) -> None:
        """Record ``value`` (a number or a 0-d tensor) under ``name`` at the current iteration."""
        value = float(value.detach()) if hasattr(value, "detach") else float(value)
        self._history[name].append(value)
        self._latest[name] = (value, self.iter)

    def put_scalars(self, **values: Any) -> None:
        """Record several scalars."""
        for name, value in values.items():
            self.put_scalar(name, value)

    def increment(self, name: str, amount: int = 1) -> int:
        """Add to a counter (e.g. skipped steps) and return its total."""
        self._counters[name] += amount
        return self._counters[name]

    def counter(self, name: str) -> int:
        """Current value of a counter."""
        return self._counters[name]

    def latest(self) -> dict[str, tuple[float, int]]:
        """Latest (value, iteration) of every scalar."""
        return dict(self._latest)

    def median(self, name: str) -> float:
        """Median of the recent history of ``name``."""
        return statistics.median(self._history[name])

    def global_avg(self, name: str) -> float:
        """Mean of the recent history of ``name``."""
        return statistics.fmean(self._history[name])

    def names(self) -> list[str]:
        """All recorded scalar names."""
        return sorted(self._latest)

    def __enter__(self) -> EventStorage:
        _CURRENT.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _CURRENT.pop()


_SINK = EventStorage()


def get_event_storage() -> EventStorage:
    """The storage of the running training loop (a throw-away sink outside one)."""
    return _CURRENT[-1] if _CURRENT else _SINK
