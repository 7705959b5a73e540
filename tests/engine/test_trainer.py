"""Trainer: exact resume, checkpoints, plateau stop, non-finite loss, per-group clipping."""

import pytest
import torch
from torch import nn

from maskrcnn_benchmark.engine.hooks import EvalHook, PeriodicCheckpointer, PeriodicWriter
from maskrcnn_benchmark.engine.trainer import HookBase, Trainer
from maskrcnn_benchmark.solver import WarmupMultiStepLR, WarmupReduceLROnPlateau
from maskrcnn_benchmark.structures import BoxList
from maskrcnn_benchmark.utils.checkpoint import Checkpointer
from maskrcnn_benchmark.utils.env import seed_all_rng


class ToyModel(nn.Module):
    """Dropout and a random draw inside forward, so RNG restoration matters."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))
        self.energy_model = nn.Linear(8, 1)

    def forward(self, images, targets):
        x = images.flatten(1)[:, :8]
        noise = torch.randn_like(x) * 0.01
        y = torch.stack([t.get_field("labels").float().mean() for t in targets])
        pred = self.net(x + noise).squeeze(1)
        return {"loss_fit": ((pred - y) ** 2).mean(),
                "loss_energy": self.energy_model(x).pow(2).mean() * 1e-3,
                "stat_not_a_loss": torch.tensor(1e6)}


def toy_loader(start_iter: int, max_iter: int):
    """Deterministic batches as a function of the iteration (like the iteration sampler)."""
    for it in range(start_iter, max_iter):
        g = torch.Generator().manual_seed(it)
        images = torch.rand(2, 3, 4, 4, generator=g)
        targets = []
        for _ in range(2):
            t = BoxList(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), (4, 4))
            t.add_field("labels", torch.randint(0, 5, (1,), generator=g))
            targets.append(t)
        yield images, targets, (0, 1)


def build(tmp_path, start_iter=0, max_iter=10, period=5):
    seed_all_rng(7)
    model = ToyModel()
    opt = torch.optim.SGD([{"params": model.net.parameters(), "name": "model"},
                           {"params": model.energy_model.parameters(), "name": "energy"}],
                          lr=0.05, momentum=0.9)
    sched = WarmupMultiStepLR(opt, [6], warmup_iters=3)
    ck = Checkpointer(model, opt, sched, save_dir=str(tmp_path), save_to_disk=True)
    extra = ck.load() if start_iter else {}
    start = extra.get("iteration", 0)
    trainer = Trainer(model, toy_loader(start, max_iter), opt, sched, max_iter=max_iter,
                      device="cpu", start_iter=start, grad_clip=1.0)
    trainer.resume_rng_state(extra.get("rng"))
    trainer.register_hooks([PeriodicCheckpointer(ck, period), PeriodicWriter(2)])
    return model, trainer


def test_resume_is_bitwise_identical(tmp_path):
    full, trainer = build(tmp_path / "full")
    trainer.train()
    _, first = build(tmp_path / "split", max_iter=10, period=5)
    first.max_iter = 10
    # stop after 5 iterations by requesting a stop from a hook-like callback
    first.register_hooks([_StopAt(5)])
    first.train()
    resumed, second = build(tmp_path / "split", start_iter=5)
    assert second.start_iter == 5
    second.train()
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert (tmp_path / "split" / "last_checkpoint").read_text() == "model_final.pth"


class _StopAt(HookBase):
    def __init__(self, n):
        self.n = n

    def after_step(self):
        if self.trainer.iter + 1 == self.n:
            self.trainer.stop_requested = True


def test_only_loss_keys_are_summed_and_groups_clipped_separately(tmp_path):
    _, trainer = build(tmp_path, max_iter=1)
    trainer.train()
    latest = trainer.storage.latest()
    assert "stat_not_a_loss" not in latest
    assert latest["total_loss"][0] == pytest.approx(latest["loss_fit"][0] +
                                                     latest["loss_energy"][0])
    assert {"grad_norm/model", "grad_norm/energy"} <= set(latest)


def test_plateau_validation_stops_training_and_final_checkpoint(tmp_path):
    seed_all_rng(0)
    model = ToyModel()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = WarmupReduceLROnPlateau(opt, factor=0.1, warmup_iters=0, patience=1, cooldown=0,
                                    max_decay_step=2)
    ck = Checkpointer(model, opt, sched, save_dir=str(tmp_path), save_to_disk=True)
    scores = iter([0.5, 0.4, 0.3, 0.2, 0.1])
    hook = EvalHook(2, lambda: next(scores), pre_val=True)
    trainer = Trainer(model, toy_loader(0, 100), opt, sched, max_iter=100, device="cpu")
    trainer.register_hooks([hook, PeriodicCheckpointer(ck, 1000)])
    trainer.train()
    # pre-val 0.5 (best), then 0.4 -> decay 1, 0.3 -> decay 2 -> stop after iteration 4
    assert [it for it, _ in hook.history] == [0, 2, 4]
    assert trainer.iter == 4 and sched.stage_count == 2
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 * 0.01)
    assert torch.load(tmp_path / "model_final.pth", weights_only=True)["iteration"] == 4


def test_validation_does_not_change_training_randomness(tmp_path):
    def run(with_eval):
        seed_all_rng(3)
        model = ToyModel()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        trainer = Trainer(model, toy_loader(0, 6), opt, WarmupMultiStepLR(opt, [100]),
                          max_iter=6, device="cpu")
        if with_eval:
            trainer.register_hooks([EvalHook(2, lambda: float(torch.rand(1)))])
        trainer.train()
        return model.net[0].weight.clone()

    assert torch.equal(run(False), run(True))


class NaNModel(ToyModel):
    def forward(self, images, targets):
        return {"loss_bad": self.net(images.flatten(1)[:, :8]).sum() * float("nan")}


def test_non_finite_loss_raises_and_keeps_checkpoints(tmp_path):
    model = NaNModel()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    ck = Checkpointer(model, opt, save_dir=str(tmp_path), save_to_disk=True)
    ck.save("model_0000000", iteration=0)
    trainer = Trainer(model, toy_loader(0, 3), opt, WarmupMultiStepLR(opt, [10]), max_iter=3,
                      device="cpu")
    with pytest.raises(FloatingPointError, match="loss_bad"):
        trainer.train()
    assert ck.get_checkpoint_file().endswith("model_0000000.pth")


class InfiniteGradientModel(ToyModel):
    """A finite loss (0 at the start) whose gradient is infinite: sqrt at 0."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(1))

    def forward(self, images, targets):
        return {"loss_fit": self.offset.abs().sqrt().sum()}


def test_non_finite_gradient_of_a_finite_loss_raises_before_the_step():
    model = InfiniteGradientModel()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    weights = model.net[0].weight.clone()
    trainer = Trainer(model, toy_loader(0, 3), opt, WarmupMultiStepLR(opt, [10]), max_iter=3,
                      device="cpu", grad_clip=5.0)
    with pytest.raises(FloatingPointError, match=r"iteration 0 \(\{'model': (inf|nan)\}\)"):
        trainer.train()
    assert torch.equal(model.offset.detach(), torch.zeros(1))  # no step: nothing became NaN
    assert torch.equal(model.net[0].weight, weights)


def test_bfloat16_autocast_runs_on_cpu():
    model = ToyModel()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    trainer = Trainer(model, toy_loader(0, 2), opt, WarmupMultiStepLR(opt, [10]), max_iter=2,
                      device="cpu", dtype="bfloat16")
    trainer.train()
    assert torch.isfinite(model.net[0].weight).all()
    with pytest.raises(ValueError, match="DTYPE"):
        Trainer(model, [], opt, None, max_iter=1, device="cpu", dtype="fp8")
