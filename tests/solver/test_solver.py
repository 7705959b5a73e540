"""Optimizer rules and warm-up schedules match SGB's definitions."""

import pytest
import torch
from torch import nn

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.solver import (
    WarmupMultiStepLR,
    WarmupReduceLROnPlateau,
    make_lr_scheduler,
    make_optimizer,
)


def _model():
    m = nn.Module()
    m.backbone = nn.Linear(2, 2).requires_grad_(False)
    m.relation = nn.Linear(2, 2)
    m.union_feature_extractor = nn.Linear(2, 2)
    m.energy_model = nn.Linear(2, 1)
    return m


def test_optimizer_lr_rules_and_groups():
    cfg = get_cfg()
    cfg.SOLVER.BASE_LR, cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BIAS_LR_FACTOR = 0.01, 4, 2
    cfg.SOLVER.WEIGHT_DECAY, cfg.SOLVER.WEIGHT_DECAY_BIAS = 1e-4, 0.0
    opt = make_optimizer(cfg, _model(), slow_heads=["union_feature_extractor"])
    lrs = {(g["name"], round(g["lr"], 6), g["weight_decay"]): len(g["params"])
           for g in opt.param_groups}
    assert lrs == {
        ("model", 0.04, 1e-4): 1,  # relation.weight: 0.01 * 4
        ("model", 0.08, 0.0): 1,  # relation.bias: x BIAS_LR_FACTOR, bias decay
        ("model", 0.004, 1e-4): 1,  # slow head: / 10
        ("model", 0.008, 0.0): 1,
        ("energy", 0.04, 1e-4): 1,
        ("energy", 0.08, 0.0): 1,
    }
    frozen = {id(p) for p in _model().backbone.parameters()}
    assert all(id(p) not in frozen for g in opt.param_groups for p in g["params"])


def test_energy_lr_factor_scales_only_the_energy_model():
    cfg = get_cfg()
    cfg.SOLVER.BASE_LR, cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BIAS_LR_FACTOR = 0.01, 4, 2
    cfg.SOLVER.ENERGY_LR_FACTOR = 0.01
    lrs = {(g["name"], round(g["lr"], 8)) for g in make_optimizer(cfg, _model()).param_groups}
    assert lrs == {("model", 0.04), ("model", 0.08), ("energy", 0.0004), ("energy", 0.0008)}


def test_multistep_warmup_values():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupMultiStepLR(opt, [4, 6], gamma=0.1, warmup_factor=0.1, warmup_iters=2)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(7):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == pytest.approx([0.1, 0.55, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError, match="increasing"):
        WarmupMultiStepLR(opt, [6, 4])


def test_plateau_patience_cooldown_and_stop():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupReduceLROnPlateau(opt, factor=0.1, warmup_iters=0, patience=2, threshold=0.01,
                                    cooldown=1, max_decay_step=2)
    assert sched.get_last_lr() == [1.0]
    # first report is inside the initial cooldown: never counted as bad
    assert not sched.report(0.5)
    assert not sched.report(0.505)  # not an improvement (threshold), bad 1
    assert sched.report(0.5)  # bad 2 -> decay
    assert sched.get_last_lr() == pytest.approx([0.1]) and sched.stage_count == 1
    assert not sched.report(0.4)  # cooldown swallows it
    assert not sched.report(0.9)  # improvement resets
    assert not sched.report(0.9)
    assert sched.report(0.9) and sched.should_stop
    assert sched.get_last_lr() == pytest.approx([0.01])


def test_scheduler_state_round_trip():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    a = WarmupReduceLROnPlateau(opt, factor=0.5, warmup_iters=0, patience=1, cooldown=0)
    a.report(1.0)
    a.report(0.0)
    for _ in range(3):
        a.step()
    opt2 = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    b = WarmupReduceLROnPlateau(opt2, factor=0.5, warmup_iters=0, patience=1, cooldown=0)
    b.load_state_dict(a.state_dict())
    assert b.get_last_lr() == a.get_last_lr() == [0.5]
    assert b.last_epoch == 3 and b.best == 1.0


def test_make_lr_scheduler_from_cfg_and_bad_type():
    cfg = get_cfg()
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    cfg.SOLVER.SCHEDULE.TYPE = "WarmupReduceLROnPlateau"
    assert isinstance(make_lr_scheduler(cfg, opt), WarmupReduceLROnPlateau)
    cfg.SOLVER.SCHEDULE.TYPE = "Cosine"
    with pytest.raises(ValueError, match="SOLVER.SCHEDULE.TYPE"):
        make_lr_scheduler(cfg, opt)
