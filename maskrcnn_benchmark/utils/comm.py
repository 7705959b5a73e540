"""Distributed helpers that are no-ops in a single process (so everything runs on a CPU)."""

from __future__ import annotations

import os
import pickle
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "get_world_size",
    "get_rank",
    "get_local_rank",
    "is_main_process",
    "synchronize",
    "all_gather",
    "gather",
    "reduce_dict",
    "init_distributed",
    "broadcast_object",
    "global_count",
]


def is_distributed() -> bool:
    """Whether a process group is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def get_rank() -> int:
    """Rank of this process (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_local_rank() -> int:
    """Rank within this machine, from torchrun's LOCAL_RANK."""
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main_process() -> bool:
    """Whether this is rank 0 (the only rank that writes files)."""
    return get_rank() == 0


def synchronize() -> None:
    """Barrier across processes; nothing in a single process."""
    if is_distributed():
        dist.barrier()


def init_distributed(device: str) -> str:
    """Initialise the process group when launched by torchrun; return the device to use.

    NCCL serves CUDA devices and gloo serves CPUs. Without WORLD_SIZE > 1 this does nothing.
    """
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    if world_size > 1 and not (dist.is_available() and dist.is_initialized()):
        use_cuda = device.startswith("cuda") and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(get_local_rank())
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", init_method="env://")
    if device.startswith("cuda") and world_size > 1:
        return f"cuda:{get_local_rank()}"
    return device


def _object_group() -> Any:
    # Python objects travel over gloo even when the main backend is NCCL.
    if dist.get_backend() == "nccl":
        global _GLOO_GROUP
        if _GLOO_GROUP is None:
            _GLOO_GROUP = dist.new_group(backend="gloo")
        return _GLOO_GROUP
    return None


_GLOO_GROUP = None


def all_gather(data: Any) -> list[Any]:
    """Gather a picklable object from every rank; every rank gets the full list."""
    if not is_distributed():
        return [data]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, data, group=_object_group())
    return out


def gather(data: Any, dst: int = 0) -> list[Any]:
    """Gather a picklable object on rank ``dst``; other ranks get an empty list.

    Works when ranks hold different amounts of data (objects are pickled with their sizes).
    """
    if not is_distributed():
        return [data]
    if get_rank() == dst:
        out: list[Any] = [None] * get_world_size()
        dist.gather_object(data, out, dst=dst, group=_object_group())
        return out
    dist.gather_object(data, None, dst=dst, group=_object_group())
    return []


def broadcast_object(data: Any, src: int = 0) -> Any:
    """Send a picklable object from rank ``src`` to all ranks."""
    if not is_distributed():
        return data
    holder = [data]
    dist.broadcast_object_list(holder, src=src, group=_object_group())
    return holder[0]


def reduce_dict(values: dict[str, torch.Tensor], average: bool = True) -> dict[str, torch.Tensor]:
    """Sum (or average) a dict of scalar tensors over ranks, for logging."""
    if not is_distributed() or not values:
        return values
    names = sorted(values)
    stacked = torch.stack([values[k].detach().float().reshape(()) for k in names])
    dist.all_reduce(stacked)
    if average:
        stacked /= get_world_size()
    return dict(zip(names, stacked))


def object_size_bytes(data: Any) -> int:
    """Size of an object once pickled (for logging gather volumes)."""
    return len(pickle.dumps(data))


def global_count(count: int, device: torch.device | str) -> float:
    """``count`` summed over ranks (itself in a single process).

    A loss averaged over items whose number differs between ranks is ``sum / global_count *
    world_size`` on each rank: after DDP averages the gradients, they equal the gradient of the
    mean over the whole global batch, as a single process would compute it.
    """
    if not is_distributed():
        return float(count)
    total = torch.tensor([float(count)], device=device)
    dist.all_reduce(total)
    return float(total.item())
