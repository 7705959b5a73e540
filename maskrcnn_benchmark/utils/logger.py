"""Logging setup: rank 0 logs to the console and OUTPUT_DIR/log.txt; other ranks stay quiet."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["setup_logger"]


def setup_logger(name: str, save_dir: str | None, distributed_rank: int = 0,
                 filename: str = "log.txt") -> logging.Logger:
    """Configure the ``name`` logger (usually "maskrcnn_benchmark") and return it."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    if distributed_rank > 0:
        logger.addHandler(logging.NullHandler())
        return logger
    formatter = logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s")
    console = logging.StreamHandler(stream=sys.stdout)
    console.setLevel(logging.INFO)
    console.setFormatter(formatter)
    logger.addHandler(console)
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
        file_handler = logging.FileHandler(os.path.join(save_dir, filename))
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    return logger
