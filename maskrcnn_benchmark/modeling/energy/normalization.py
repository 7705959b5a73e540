"""Row-wise min-max normalisation of scene-graph states to [0, 1], and its inverse.

The EBM code divides ``row - min`` by ``max(row - min)``, which is 0/0 = NaN for a constant row
(e.g. equal logits, or a row flattened by a sampler step). Here a row whose range is at most
``RANGE_EPS`` is only shifted (``row - min``, all values within ``RANGE_EPS`` of 0) instead of
divided, so the result and its gradient stay finite.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["minmax_normalize", "row_range", "denormalize", "RANGE_EPS"]

RANGE_EPS = 1e-6


def row_range(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Per row: the minimum [R, 1] and the divisor [R, 1] (the range, or 1 for flat rows)."""
    if rows.shape[-1] == 0:
        raise ValueError("min-max normalisation needs rows with at least one column")
    low = rows.min(dim=-1, keepdim=True).values
    spread = rows.max(dim=-1, keepdim=True).values - low
    divisor = torch.where(spread > RANGE_EPS, spread, torch.ones_like(spread))
    return low, divisor


def minmax_normalize(rows: Tensor) -> Tensor:
    """Map each row to [0, 1]: ``(row - min) / (max - min)``; flat rows map to ``row - min``."""
    low, divisor = row_range(rows)
    return (rows - low) / divisor


def denormalize(states: Tensor, reference_rows: Tensor) -> Tensor:
    """Invert ``minmax_normalize(reference_rows)`` on ``states``: ``min + states * range``."""
    low, divisor = row_range(reference_rows)
    return low + states * divisor
