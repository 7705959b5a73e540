"""Energy losses against hand-computed values (E+ = [1, 2], E- = [0.5, -1], T = 2)."""

import math

import pytest
import torch

from maskrcnn_benchmark.modeling.energy import (
    ContrastiveDivergence,
    LogSumExp,
    SoftPlus,
    build_energy_loss,
)
from maskrcnn_benchmark.modeling.energy.losses import energy_l2_regularizer

POSITIVE = torch.tensor([1.0, 2.0])
NEGATIVE = torch.tensor([0.5, -1.0])


def test_contrastive_divergence():
    # 2 * (mean(1, 2) - mean(0.5, -1)) = 2 * (1.5 + 0.25)
    loss = ContrastiveDivergence(temperature=2.0)(POSITIVE, NEGATIVE)
    assert loss.shape == () and loss.item() == pytest.approx(3.5)


def test_softplus_is_reduced_to_the_mean():
    # T (E+ - E-) = [1, 6]
    expected = (math.log(1 + math.e) + math.log(1 + math.exp(6))) / 2
    loss = SoftPlus(temperature=2.0)(POSITIVE, NEGATIVE)
    assert loss.shape == () and loss.item() == pytest.approx(expected, rel=1e-6)


def test_log_sum_exp():
    # r = E- - min E- = [1.5, 0]; w = exp(-T r) / (sum + 1e-4) = [e^-3, 1] / (e^-3 + 1 + 1e-4)
    norm = math.exp(-3) + 1 + 1e-4
    expected = 2 * 1.5 - 2 * (math.exp(-3) / norm * 1.5 + 1 / norm * 0.0)
    loss = LogSumExp(temperature=2.0)(POSITIVE, NEGATIVE)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_l2_regulariser_is_averaged_over_images():
    # mean(1 + 0.25, 4 + 1)
    assert energy_l2_regularizer(POSITIVE, NEGATIVE).item() == pytest.approx(3.125)


def test_build_energy_loss_reads_loss_and_temperature(cfg):
    cfg.ENERGY_MODEL.LOSS, cfg.ENERGY_MODEL.TEMP = "SoftPlus", 0.5
    loss = build_energy_loss(cfg)
    assert isinstance(loss, SoftPlus) and loss.temperature == 0.5
    cfg.ENERGY_MODEL.LOSS = "Hinge"
    with pytest.raises(KeyError, match="ENERGY_LOSSES"):
        build_energy_loss(cfg)
