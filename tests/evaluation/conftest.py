"""Fixtures for evaluation tests."""

import logging

import pytest


@pytest.fixture
def eval_log(caplog):
    """caplog that sees the package's records even if setup_logger stopped propagation."""
    logger = logging.getLogger("maskrcnn_benchmark")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="maskrcnn_benchmark")
    yield caplog
    logger.removeHandler(caplog.handler)
