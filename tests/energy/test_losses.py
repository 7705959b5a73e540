"""Energy losses against hand-computed values (E+ = [1, 2], E- = [0.5, -1], T = 2)."""

import math

import pytest
import torch

from maskrcnn_benchmark.modeling.energy import (
    ContrastiveDivergence,
    LogSumExp,
    Margin,
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


# Several negatives per image: E- = [[0.5, 1.5, 9.0], [-1.0, 0.0, 3.0]], the last one masked out
# in image 0 (e.g. a hard negative with nothing to change).
MANY = torch.tensor([[0.5, 1.5, 9.0], [-1.0, 0.0, 3.0]])
MASK = torch.tensor([[True, True, False], [True, True, True]])


@pytest.mark.parametrize("loss", [ContrastiveDivergence(temperature=2.0),
                                  SoftPlus(temperature=2.0), LogSumExp(temperature=2.0),
                                  Margin(temperature=2.0, margin=0.5)])
def test_one_negative_as_a_column_gives_the_same_value(loss):
    flat = loss(POSITIVE, NEGATIVE)
    column = loss(POSITIVE, NEGATIVE.unsqueeze(1), distance=None,
                  mask=torch.ones(2, 1, dtype=torch.bool))
    assert column.item() == pytest.approx(flat.item(), rel=1e-6)


def test_several_negatives_are_averaged_per_image_then_over_images():
    # CD: per image mean E- = [1.0, 2/3]; 2 * (1.5 - mean(1.0, 2/3))
    cd = ContrastiveDivergence(temperature=2.0)(POSITIVE, MANY, mask=MASK)
    assert cd.item() == pytest.approx(2 * (1.5 - (1.0 + 2 / 3) / 2), rel=1e-6)
    # SoftPlus: T (E+ - E-) = [[1, -1], [6, 4, -2]]
    sp = SoftPlus(temperature=2.0)(POSITIVE, MANY, mask=MASK)
    expected = (math.log1p(math.e) + math.log1p(math.exp(-1))) / 2 / 2 + (
        math.log1p(math.exp(6)) + math.log1p(math.exp(4)) + math.log1p(math.exp(-2))) / 3 / 2
    assert sp.item() == pytest.approx(expected, rel=1e-6)
    # LogSumExp pools every existing negative: r = [1.5, 2.5, 0, 1, 4]
    r = [1.5, 2.5, 0.0, 1.0, 4.0]
    norm = sum(math.exp(-2 * v) for v in r) + 1e-4
    lse = LogSumExp(temperature=2.0)(POSITIVE, MANY, mask=MASK)
    assert lse.item() == pytest.approx(2 * 1.5 - 2 * sum(math.exp(-2 * v) / norm * v for v in r),
                                       rel=1e-6)


def test_margin_hinge_active_inactive_and_scaled_by_the_distance():
    margin = Margin(temperature=2.0, margin=0.5)
    # active: 0.5 d + 2 (E+ - E-) with d = [1, 3]: [0.5 + 1, 1.5 + 6] -> mean 4.5
    active = margin(POSITIVE, NEGATIVE, distance=torch.tensor([1.0, 3.0]))
    assert active.item() == pytest.approx(4.5)
    # no distance: d = 1
    assert margin(POSITIVE, NEGATIVE).item() == pytest.approx((1.5 + 6.5) / 2)
    # E- above E+: 2 (E+ - E-) = [-4, -0.4]; d = [1, 2]: [-3.5 -> 0, 0.6] -> mean 0.3
    high = torch.tensor([3.0, 2.2])
    assert margin(POSITIVE, high, distance=torch.tensor([1.0, 2.0])).item() == pytest.approx(0.3)
    # doubling d raises an active hinge by margin * d: image 1 goes 0.6 -> 1.6, image 0 stays 0
    doubled = margin(POSITIVE, high, distance=torch.tensor([2.0, 4.0]))
    assert doubled.item() == pytest.approx((0.0 + 1.6) / 2)
    # no gradient from an inactive hinge, -T per image (/ B) from an active one
    leaf = high.clone().requires_grad_(True)
    margin(POSITIVE, leaf, distance=torch.tensor([1.0, 2.0])).backward()
    assert leaf.grad.tolist() == pytest.approx([0.0, -2.0 / 2])
    # several negatives with distances and a mask: image 0 [0.5 + 1, 0.5 * 2 - 1], image 1
    # [0.5 * 4 + 6, 0.5 + 4, 0.5 * 3 - 2 -> 0]
    many = margin(POSITIVE, MANY, distance=torch.tensor([[1.0, 2.0, 5.0], [4.0, 1.0, 3.0]]),
                  mask=MASK)
    assert many.item() == pytest.approx(((1.5 + 0.0) / 2 + (8.0 + 4.5 + 0.0) / 3) / 2)
    with pytest.raises(ValueError, match="MARGIN"):
        Margin(temperature=1.0, margin=-1.0)


def test_l2_regulariser_sum_and_mean_and_several_negatives():
    assert energy_l2_regularizer(POSITIVE, NEGATIVE, reduction="sum").item() == pytest.approx(
        6.25)  # (1 + 0.25) + (4 + 1)
    # per image E+^2 + mean of its negatives' E-^2: [1 + (0.25 + 2.25) / 2, 4 + (1 + 0 + 9) / 3]
    per_image = [1 + 1.25, 4 + 10 / 3]
    assert energy_l2_regularizer(POSITIVE, MANY, mask=MASK).item() == pytest.approx(
        sum(per_image) / 2)
    assert energy_l2_regularizer(POSITIVE, MANY, mask=MASK, reduction="sum").item() == \
        pytest.approx(sum(per_image))
    with pytest.raises(ValueError, match="L2_REDUCTION"):
        energy_l2_regularizer(POSITIVE, NEGATIVE, reduction="max")


def test_build_energy_loss_passes_the_margin(cfg):
    cfg.ENERGY_MODEL.LOSS, cfg.ENERGY_MODEL.TEMP, cfg.ENERGY_MODEL.MARGIN = "Margin", 0.5, 0.25
    loss = build_energy_loss(cfg)
    assert isinstance(loss, Margin) and (loss.temperature, loss.margin) == (0.5, 0.25)
