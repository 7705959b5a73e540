"""Checkpoint I/O: SGB containers, prefixes, load_mapping, refusal of pickles, atomic saves."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from torch import nn

from maskrcnn_benchmark.utils.checkpoint import (
    Checkpointer,
    load_checkpoint_file,
    load_model_state,
    sanitize_checkpoint_file,
)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.roi_heads = nn.Module()
        self.roi_heads.box = nn.Module()
        self.roi_heads.box.feature_extractor = nn.Linear(4, 3)
        self.roi_heads.relation = nn.Module()
        self.roi_heads.relation.box_feature_extractor = nn.Linear(4, 3)
        self.roi_heads.relation.predictor = nn.Linear(3, 2)


def test_round_trip_restores_model_optimizer_scheduler_and_extras(tmp_path):
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 3)
    feats = model.roi_heads.box.feature_extractor(torch.ones(1, 4))
    model.roi_heads.relation.predictor(feats).sum().backward()
    opt.step()
    sched.step()
    ck = Checkpointer(model, opt, sched, save_dir=str(tmp_path), save_to_disk=True)
    ck.save("model_0000010", iteration=10)
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000010.pth"

    fresh = Tiny()
    opt2 = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, 3)
    extra = Checkpointer(fresh, opt2, sched2, save_dir=str(tmp_path)).load()
    assert extra == {"iteration": 10}
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    assert sched2.last_epoch == 1
    mom = [s["momentum_buffer"] for s in opt2.state_dict()["state"].values()]
    assert all(torch.equal(m, r["momentum_buffer"]) for m, r in
               zip(mom, opt.state_dict()["state"].values()))


def test_moved_folder_and_legacy_absolute_last_checkpoint(tmp_path):
    model = Tiny()
    Checkpointer(model, save_dir=str(tmp_path / "a"), save_to_disk=True).save("model_final")
    os.rename(tmp_path / "a", tmp_path / "b")
    ck = Checkpointer(Tiny(), save_dir=str(tmp_path / "b"))
    assert ck.get_checkpoint_file() == str(tmp_path / "b" / "model_final.pth")
    # SGB wrote absolute paths of the author's machine; resolve by file name
    (tmp_path / "b" / "last_checkpoint").write_text("/home/someone/output/model_final.pth")
    assert ck.get_checkpoint_file() == str(tmp_path / "b" / "model_final.pth")


def test_module_prefix_is_stripped_and_mapping_fills_only_missing_keys():
    src = Tiny()
    sd = {"module." + k: v for k, v in src.state_dict().items()
          if not k.startswith("roi_heads.relation")}
    dst = Tiny()
    report = load_model_state(dst, sd, {"roi_heads.relation.box_feature_extractor":
                                        "roi_heads.box.feature_extractor"})
    w = src.roi_heads.box.feature_extractor.weight
    assert torch.equal(dst.roi_heads.relation.box_feature_extractor.weight, w)
    assert len(report.mapped) == 2
    assert sorted(report.missing) == ["roi_heads.relation.predictor.bias",
                                      "roi_heads.relation.predictor.weight"]
    # a key present in the file is loaded as itself, never overwritten by the mapping
    full = src.state_dict()
    full["roi_heads.relation.box_feature_extractor.weight"] = torch.full((3, 4), 7.0)
    load_model_state(dst, full, {"roi_heads.relation.box_feature_extractor":
                                 "roi_heads.box.feature_extractor"})
    assert dst.roi_heads.relation.box_feature_extractor.weight.eq(7).all()


def test_report_table_and_errors():
    src = Tiny().state_dict()
    src["roi_heads.extra.weight"] = torch.zeros(1)
    report = load_model_state(Tiny(), src)
    assert report.unexpected == ["roi_heads.extra.weight"]
    assert "unexpected in the checkpoint" in report.table()
    with pytest.raises(ValueError, match="roi_heads.extra"):
        load_model_state(Tiny(), src, strict=True)
    bad = Tiny().state_dict()
    bad["roi_heads.relation.predictor.weight"] = torch.zeros(5, 5)
    with pytest.raises(ValueError, match=r"weight: model \(2, 3\) vs checkpoint \(5, 5\)"):
        load_model_state(Tiny(), bad)


class _Opaque:
    pass


def test_pickled_objects_are_refused_and_sanitizer_recovers(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"model": Tiny().state_dict(), "args": _Opaque()}, path)
    with pytest.raises(ValueError, match="sanitize_checkpoint"):
        load_checkpoint_file(str(path))
    dropped = sanitize_checkpoint_file(str(path), str(tmp_path / "clean.pth"))
    assert dropped == ["args"]
    assert set(load_checkpoint_file(str(tmp_path / "clean.pth"))) == {"model"}


def test_missing_corrupt_and_url_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_checkpoint_file(str(tmp_path / "nope.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        load_checkpoint_file(str(tmp_path / "junk.pth"))
    with pytest.raises(ValueError, match="nothing is downloaded"):
        load_checkpoint_file("catalog://ImageNetPretrained/FAIR/20171220/X-101-32x8d")


def test_bare_state_dict_is_wrapped(tmp_path):
    torch.save(Tiny().state_dict(), tmp_path / "bare.pth")
    assert set(load_checkpoint_file(str(tmp_path / "bare.pth"))) == {"model"}


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model = Tiny()
    ck = Checkpointer(model, save_dir=str(tmp_path), save_to_disk=True)
    ck.save("model_0000001")
    before = (tmp_path / "model_0000001.pth").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        ck.save("model_0000002")
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001.pth"
    assert (tmp_path / "model_0000001.pth").read_bytes() == before
    assert not list(tmp_path.glob("*.tmp*")) and not (tmp_path / "model_0000002.pth").exists()


def test_kill_during_write_leaves_previous_checkpoint_loadable(tmp_path):
    script = textwrap.dedent(f"""
        import torch, sys
        from torch import nn
        from maskrcnn_benchmark.utils.checkpoint import Checkpointer
        model = nn.Linear(4, 3)
        ck = Checkpointer(model, save_dir={str(tmp_path)!r}, save_to_disk=True)
        ck.save("model_0000001")
        big = nn.Linear(1, 1)
        big.weight = nn.Parameter(torch.zeros(60_000_000, 1))
        ck.model = big
        print("saving", flush=True)
        while True:
            ck.save("model_0000002")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert proc.stdout.readline().strip() == b"saving"
    deadline = time.time() + 20
    while not list(tmp_path.glob("model_0000002.pth.tmp*")) and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    model = nn.Linear(4, 3)
    ck = Checkpointer(model, save_dir=str(tmp_path))
    f = ck.get_checkpoint_file()
    if f.endswith("model_0000002.pth"):  # the loop finished a full save before the kill
        assert load_checkpoint_file(f)["model"]["weight"].shape == (60_000_000, 1)
    else:
        assert f.endswith("model_0000001.pth")
        ck.load()
