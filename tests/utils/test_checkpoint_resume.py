"""Resume falls back to the newest readable checkpoint when the newest one is unreadable."""

import logging
import os

import pytest
import torch
from torch import nn

from maskrcnn_benchmark.utils.checkpoint import Checkpointer

LOGGER = "maskrcnn_benchmark.utils.checkpoint"


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _save(folder, seed: int, iteration: int, name: str | None = None) -> nn.Module:
    """Save a model of distinct weights (and an optimizer that took one step)."""
    model = _model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 4)).sum().backward()
    opt.step()
    ck = Checkpointer(model, opt, save_dir=str(folder), save_to_disk=True)
    ck.save(name or f"model_{iteration:07d}", iteration=iteration)
    return model


def _truncate(path, fraction: float = 0.5) -> None:
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(int(size * fraction))


def _resume(folder) -> tuple[nn.Module, torch.optim.Optimizer, dict]:
    model = _model(99)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    extra = Checkpointer(model, opt, save_dir=str(folder)).load()
    return model, opt, extra


def _equal(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                  b.state_dict().values()))


def test_truncated_newest_checkpoint_falls_back_to_the_older_one(tmp_path, caplog):
    older = _save(tmp_path, seed=1, iteration=10)
    newer = _save(tmp_path, seed=2, iteration=20)
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000020.pth"
    assert not _equal(older, newer)
    _truncate(tmp_path / "model_0000020.pth")

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        model, opt, extra = _resume(tmp_path)
    assert extra == {"iteration": 10}
    assert _equal(model, older)
    assert len(opt.state_dict()["state"]) == 4  # momentum buffers of the older file came back
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert str(tmp_path / "model_0000020.pth") in warnings
    assert "model_0000010.pth" in warnings
    # nothing was rewritten: the broken file is still there for inspection
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000020.pth"


def test_truncated_final_checkpoint_falls_back_by_iteration(tmp_path, caplog):
    _save(tmp_path, seed=1, iteration=5)
    expected = _save(tmp_path, seed=2, iteration=40)
    _save(tmp_path, seed=3, iteration=30)  # saved later, but an older iteration
    _save(tmp_path, seed=4, iteration=50, name="model_final")
    (tmp_path / "model_0000060.pth.tmp.123").write_bytes(b"partial write")  # not a checkpoint
    _truncate(tmp_path / "model_final.pth", 0.9)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        model, _, extra = _resume(tmp_path)
    assert extra == {"iteration": 40}
    assert _equal(model, expected)
    assert "model_final.pth" in caplog.text


def test_several_unreadable_checkpoints_are_skipped_newest_first(tmp_path):
    expected = _save(tmp_path, seed=1, iteration=10)
    _save(tmp_path, seed=2, iteration=20)
    _save(tmp_path, seed=3, iteration=30)
    _truncate(tmp_path / "model_0000030.pth", 0.0)  # empty file
    (tmp_path / "model_0000020.pth").write_bytes(b"not a torch file at all")
    model, _, extra = _resume(tmp_path)
    assert extra == {"iteration": 10}
    assert _equal(model, expected)


def test_no_readable_checkpoint_is_one_clear_error(tmp_path):
    _save(tmp_path, seed=1, iteration=10)
    _save(tmp_path, seed=2, iteration=20)
    _truncate(tmp_path / "model_0000010.pth")
    _truncate(tmp_path / "model_0000020.pth")
    with pytest.raises(ValueError, match=r"No readable checkpoint in .*model_0000020.pth, "
                                         r"model_0000010.pth could not be read.*--no-resume"):
        _resume(tmp_path)


def test_deleted_newest_checkpoint_falls_back_to_the_older_one(tmp_path, caplog):
    expected = _save(tmp_path, seed=1, iteration=10)
    _save(tmp_path, seed=2, iteration=20)
    os.remove(tmp_path / "model_0000020.pth")
    ck = Checkpointer(_model(0), save_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert ck.has_checkpoint()
        assert ck.get_checkpoint_file() == str(tmp_path / "model_0000010.pth")
    assert "model_0000020.pth, which does not exist" in caplog.text
    model, _, extra = _resume(tmp_path)
    assert extra == {"iteration": 10} and _equal(model, expected)
