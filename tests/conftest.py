"""Shared pytest fixtures: CPU-only, tiny, nothing downloaded."""

import logging

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg


@pytest.fixture(autouse=True)
def _deterministic_cpu():
    """Every test starts from the same RNG state on one thread."""
    torch.manual_seed(0)
    yield


@pytest.fixture
def cfg():
    """A fresh default config on the CPU."""
    c = get_cfg()
    c.MODEL.DEVICE = "cpu"
    return c


@pytest.fixture
def caplog_info(caplog):
    """caplog capturing INFO and above from the package."""
    caplog.set_level(logging.INFO, logger="maskrcnn_benchmark")
    return caplog
