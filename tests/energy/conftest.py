"""Fixtures of the energy tests (CPU, tiny widths, seconds each)."""

import pytest


@pytest.fixture
def energy_cfg(cfg):
    """Default config with tiny energy widths and the paper's sampler settings."""
    ebm = cfg.MODEL.ROI_RELATION_HEAD.EBM
    ebm.OBJ_EMBED_DIM, ebm.REL_EMBED_DIM = 7, 9
    ebm.OBJ_LABEL_EMBED_DIM, ebm.REL_LABEL_EMBED_DIM, ebm.POOLING_DIM = 8, 10, 11
    cfg.ENERGY_MODEL.ITERS = 2
    cfg.SAMPLER.ITERS = 3
    cfg.SAMPLER.LR = 1.0
    return cfg
