"""Scene-graph validation and testing over the configured splits (train tool and test tool)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from torch import nn

from maskrcnn_benchmark.data import make_data_loader
from maskrcnn_benchmark.utils.comm import is_distributed

from .inference import InferenceResult, inference, inference_output_folder

__all__ = ["make_relation_validator", "test_relation_model", "split_dataset_names"]

logger = logging.getLogger(__name__)

_SPLITS = ("train", "val", "test")


def split_dataset_names(cfg, split: str) -> tuple[str, ...]:
    """Catalog names of ``split`` ("train", "val" or "test") from DATASETS.*."""
    if split not in _SPLITS:
        raise ValueError(f"DATASETS.TO_TEST must be one of {_SPLITS}, got {split!r}")
    return tuple({"train": cfg.DATASETS.TRAIN, "val": cfg.DATASETS.VAL,
                  "test": cfg.DATASETS.TEST}[split])


def make_relation_validator(cfg, model: nn.Module, statistics: Any) -> Callable[[], float] | None:
    """A function returning the mean SOLVER.VAL_METRIC over DATASETS.VAL (None without VAL)."""
    if not cfg.DATASETS.VAL or not cfg.SOLVER.TO_VAL:
        return None
    loaders = make_data_loader(cfg, "val", is_distributed())

    def validate() -> float:
        scores = [inference(cfg, model, loader, name, statistics=statistics).score
                  for loader, name in zip(loaders, cfg.DATASETS.VAL)]
        return sum(scores) / len(scores)

    return validate


def test_relation_model(cfg, model: nn.Module, statistics: Any,
                        split: str | None = None) -> dict[str, InferenceResult]:
    """Evaluate on every dataset of ``split`` (default DATASETS.TO_TEST) and save the results
    under ``OUTPUT_DIR/inference/<dataset>/``; returns the results by dataset name."""
    split = split or cfg.DATASETS.TO_TEST
    names = split_dataset_names(cfg, split)
    if not names:
        raise ValueError(f"DATASETS.{split.upper()} is empty: nothing to evaluate")
    # Every split is evaluated with test-time loading (no flips, each image once).
    loaders = make_data_loader(cfg, "test", is_distributed(), dataset_names=names)
    results = {}
    for loader, name in zip(loaders, names):
        results[name] = inference(cfg, model, loader, name, inference_output_folder(cfg, name),
                                  statistics=statistics)
    return results
