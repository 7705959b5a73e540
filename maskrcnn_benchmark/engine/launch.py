"""Common start-up of the command-line tools: arguments, config, distributed, logging, seeds.

Single process: ``python tools/X.py --config-file F KEY VALUE ...``. Several processes:
``torchrun --nproc_per_node=N tools/X.py ...`` (env:// rendezvous; NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os

import torch
from torch import nn

from maskrcnn_benchmark.config import CfgNode, get_cfg
from maskrcnn_benchmark.layers.distributed_batch_norm import convert_distributed_batch_norm
from maskrcnn_benchmark.utils.comm import (
    get_local_rank,
    get_rank,
    get_world_size,
    init_distributed,
    is_distributed,
)
from maskrcnn_benchmark.utils.env import seed_all_rng
from maskrcnn_benchmark.utils.logger import setup_logger

__all__ = ["CONFIG_NAME", "TEST_CONFIG_NAME", "config_path", "default_argument_parser", "setup",
           "resolve_device", "wrap_ddp"]

logger = logging.getLogger(__name__)


class _ToolParser(argparse.ArgumentParser):
    """Flags may come before, between or after the ``KEY VALUE`` overrides."""

    def parse_args(self, args=None, namespace=None):  # noqa: D102 (argparse's signature)
        return self.parse_intermixed_args(args, namespace)


def default_argument_parser(description: str) -> argparse.ArgumentParser:
    """``--config-file``, ``--no-resume`` and ``KEY VALUE`` overrides (flags anywhere)."""
    parser = _ToolParser(description=description)
    parser.add_argument("--config-file", default="", metavar="FILE", help="YAML config")
    parser.add_argument("--no-resume", action="store_true",
                        help="start fresh even if OUTPUT_DIR holds a last_checkpoint")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None,
                        help=argparse.SUPPRESS)  # accepted from torch.distributed.launch
    parser.add_argument("opts", nargs="*", default=[],
                        help="config overrides as KEY VALUE pairs")
    return parser


def resolve_device(device: str) -> str:
    """The device to run on; a CUDA device without CUDA is an error saying what to do."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"MODEL.DEVICE is '{device}' but no CUDA device is available; "
            "add `MODEL.DEVICE cpu` to the command line to run on the CPU"
        )
    return device


def warn_cpu_float16(dtype: str, device: str) -> bool:
    """Warn (once, True) when float16 autocast is asked for on a CPU: the VG150 recipes set
    DTYPE float16 for GPUs; on CPUs it is many times slower (measured ~16x for a VCTree forward,
    docs/BENCHMARKS.md) and some ops fall back to float32."""
    if dtype != "float16" or not device.startswith("cpu"):
        return False
    logger.warning("DTYPE float16 on a CPU: autocast in float16 is many times slower there than "
                   "float32 (no fast float16 kernels); add `DTYPE float32` (or bfloat16) to the "
                   "command line for CPU runs")
    return True


CONFIG_NAME = "config.yaml"
TEST_CONFIG_NAME = "config_test.yaml"


def config_path(output_dir: str, training: bool) -> str:
    """Where a run saves its final config: ``config.yaml``, except for a test (``training``
    False) into a folder that already holds one (a training run's), which keeps it and gets
    ``config_test.yaml``: a test with other datasets never rewrites what the run trained with."""
    path = os.path.join(output_dir, CONFIG_NAME)
    if not training and os.path.isfile(path):
        return os.path.join(output_dir, TEST_CONFIG_NAME)
    return path


def setup(args: argparse.Namespace, name: str = "maskrcnn_benchmark",
          training: bool = True) -> tuple[CfgNode, str]:
    """Build the frozen config, start the process group, the logger and the seeds.

    Returns ``(cfg, device)``. Rank 0 writes the final config to ``OUTPUT_DIR/config.yaml``
    (a test, ``training`` False, into a training folder: ``config_test.yaml``; ``config_path``).
    """
    cfg = get_cfg()
    if args.config_file:
        cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    device = init_distributed(resolve_device(cfg.MODEL.DEVICE))
    if cfg.OUTPUT_DIR:
        os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    setup_logger(name, cfg.OUTPUT_DIR, get_rank())
    logger.info("Running with %d process(es) on %s", get_world_size(), device)
    if args.config_file:
        logger.info("Loaded config file %s", args.config_file)
    warn_cpu_float16(cfg.DTYPE, device)
    if get_rank() == 0 and cfg.OUTPUT_DIR:
        path = config_path(cfg.OUTPUT_DIR, training)
        with open(path, "w") as f:
            f.write(cfg.dump())
        logger.info("Full config saved to %s", path)
    seed_all_rng(cfg.SEED + get_rank())
    return cfg, device


def wrap_ddp(model: nn.Module, device: str) -> nn.Module:
    """Wrap in DistributedDataParallel when several processes run; otherwise return ``model``.

    BatchNorm layers become DistributedBatchNorm (statistics over the global batch, on CPUs
    too), so N processes train like one with the same global batch. Parameters that a task
    does not use (e.g. the object decoder in PredCls) are tolerated with
    ``find_unused_parameters``; buffers are not broadcast (the frozen detector's are identical).
    """
    if not is_distributed():
        return model
    convert_distributed_batch_norm(model)
    device_ids = [get_local_rank()] if device.startswith("cuda") else None
    ddp = nn.parallel.DistributedDataParallel
    # Buffers stay per rank after the start (the frozen detector's are identical everywhere);
    # newer PyTorch spells broadcast_buffers=False as forward_sync_buffers=False.
    no_sync = ({"forward_sync_buffers": False}
               if "forward_sync_buffers" in inspect.signature(ddp).parameters
               else {"broadcast_buffers": False})
    return ddp(model, device_ids=device_ids, find_unused_parameters=True, **no_sync)
