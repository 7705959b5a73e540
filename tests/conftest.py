"""Shared pytest fixtures: CPU-only, tiny, nothing downloaded."""

import contextlib
import logging

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg


@pytest.fixture(autouse=True)
def _deterministic_cpu():
    """Every test starts from the same RNG state on one thread."""
    torch.manual_seed(0)
    yield


@contextlib.contextmanager
def package_logger_restored():
    """Undo what setup_logger does to the package logger (handlers, propagate False) inside the
    block; module-scoped fixtures that run a tool need it, the autouse fixture below covers
    single tests."""
    log = logging.getLogger("maskrcnn_benchmark")
    state = (list(log.handlers), log.propagate, log.level)
    try:
        yield
    finally:
        for handler in log.handlers:
            if handler not in state[0]:
                handler.close()
        log.handlers[:], log.propagate, log.level = state


@pytest.fixture(autouse=True)
def _restore_package_logger():
    """Tools under test call setup_logger (handlers, propagate False); undo it after each test so
    later tests' caplog still sees the package's records."""
    with package_logger_restored():
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
