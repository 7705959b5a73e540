"""Forward throughput of a detector (images per second) on random images."""

import time

import torch
from torch import nn

from maskrcnn_benchmark.structures.image_list import ImageList

__all__ = ["measure_forward_throughput"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def measure_forward_throughput(
    model: nn.Module,
    height: int,
    width: int,
    batch_size: int,
    iterations: int,
    warmup: int = 2,
    dtype: torch.dtype | None = None,
) -> float:
    """Images/s of ``model`` in eval mode on random ``batch_size x 3 x height x width`` batches.

    ``dtype`` runs the forward under ``torch.autocast`` (e.g. torch.bfloat16); the first
    ``warmup`` batches are not timed.
    """
    device = next(model.parameters()).device
    model.eval()
    generator = torch.Generator(device="cpu").manual_seed(0)
    images = ImageList(
        torch.randn(batch_size, 3, height, width, generator=generator).to(device) * 50,
        [(height, width)] * batch_size,
    )
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        for _ in range(warmup):
            model(images)
        _sync(device)
        start = time.perf_counter()
        for _ in range(iterations):
            model(images)
        _sync(device)
    return batch_size * iterations / (time.perf_counter() - start)
