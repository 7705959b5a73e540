"""experiments.runner: run selection by priority patterns, the run-folder claim, launching."""

import contextlib
import logging
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from experiments import ExperimentError, runner

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def claimed_by_another_runner(folder: Path):
    """``folder`` claimed by a live other process (a sleeping one), killed on exit."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder / ".claim").write_text(str(holder.pid))
        yield
    finally:
        holder.kill()
        holder.wait()


def test_select_orders_by_first_matching_pattern():
    runs = [(name, []) for name in ("a_seed0", "b_seed0", "a_seed1", "c_seed0", "b_seed1")]
    picked = [name for name, _ in runner.select(runs, ["^b_", "seed0", "^a_"])]
    # b runs first (plan order kept within a pattern), then the other seed0 runs, then a_seed1
    assert picked == ["b_seed0", "b_seed1", "a_seed0", "c_seed0", "a_seed1"]
    assert runner.select(runs, []) == runs
    with pytest.raises(ExperimentError, match=r"--only pattern '\(motifs' is not a regular"):
        runner.select(runs, ["(motifs"])


def test_claim_is_exclusive_and_taken_over_from_a_dead_runner(tmp_path):
    claim = runner.claim
    assert claim(str(tmp_path))
    assert claim(str(tmp_path))  # this process already holds it
    # a live other process holds the run: not ours
    with claimed_by_another_runner(tmp_path):
        assert not claim(str(tmp_path))
    # the holder died: the claim is taken over and now names this process and thread
    assert claim(str(tmp_path))
    assert (tmp_path / ".claim").read_text() == f"{os.getpid()} {threading.get_ident()}"
    # another worker thread of this runner does not get it (two workers once pretrained the
    # same energy model into one folder at once)
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(claim, str(tmp_path)).result() is False
    assert claim(str(tmp_path))


def test_refinement_run_waits_for_its_training_run(tmp_path, caplog):
    """A test-only run whose model_final.pth is missing starts nothing and leaves nothing."""
    caplog.set_level(logging.INFO, logger="experiments")
    weight = str(tmp_path / "train_run" / "model_final.pth")
    name, code = runner.execute(("refined", ["MODEL.WEIGHT", weight]),
                                output_root=str(tmp_path), config="unused.yaml", extra_opts=[])
    assert (name, code) == ("refined", 0)
    assert not (tmp_path / "refined").exists()  # no folder, no claim, no tool launched
    assert f"waiting (no {weight} yet" in caplog.text


def test_execute_launches_the_tool_with_the_run_overrides(tmp_path, monkeypatch, caplog):
    """Training runs call relation_train_net.py, test-only runs relation_test_net.py, with the
    config, the run's overrides, OUTPUT_DIR and the extra overrides; the claim is released and
    a finished run is not started again."""
    caplog.set_level(logging.INFO, logger="experiments")
    calls = []

    def fake_run(command, stdout, stderr, env):
        calls.append((command, env["OMP_NUM_THREADS"], stdout.name))
        assert os.path.exists(os.path.join(command[command.index("OUTPUT_DIR") + 1], ".claim"))
        return subprocess.CompletedProcess(command, 3 if "SEED" in command else 0)

    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    root = str(tmp_path)
    opts = dict(output_root=root, config="base.yaml", extra_opts=["SOLVER.MAX_ITER", "10"])
    assert runner.execute(("a_seed0", ["SEED", "0"]), **opts) == ("a_seed0", 3)
    out = os.path.join(root, "a_seed0")
    assert calls[0] == ([sys.executable, str(REPO / "tools" / "relation_train_net.py"),
                         "--config-file", "base.yaml", "SEED", "0", "OUTPUT_DIR", out,
                         "SOLVER.MAX_ITER", "10"], "1", os.path.join(out, "stdout.log"))
    assert not os.path.exists(os.path.join(out, ".claim"))
    assert "FAILED (3): a_seed0" in caplog.text
    weight = tmp_path / "model_final.pth"
    weight.write_bytes(b"")
    assert runner.execute(("b", ["MODEL.WEIGHT", str(weight)]), **opts) == ("b", 0)
    assert calls[1][0][1] == str(REPO / "tools" / "relation_test_net.py")
    assert "finished: b" in caplog.text
    results = tmp_path / "a_seed0" / "inference" / "test"
    results.mkdir(parents=True)
    (results / "eval_results.json").write_text("{}")
    assert runner.execute(("a_seed0", ["SEED", "0"]), **opts) == ("a_seed0", 0)
    assert len(calls) == 2


def test_missing_pretrained_energy_model_is_pretrained_first(tmp_path, monkeypatch, caplog):
    """A training run whose ENERGY_MODEL.WEIGHT is missing first runs energy_pretrain_net.py
    with its overrides (without the weight keys) into the file's folder; a failed pretraining
    leaves the run unstarted and reports the failure; an existing file is used as it is."""
    caplog.set_level(logging.INFO, logger="experiments")
    calls = []
    pretrain_code = [2]

    def fake_run(command, stdout, stderr, env):
        calls.append(command)
        if command[1].endswith("energy_pretrain_net.py"):
            if pretrain_code[0] == 0:
                folder = command[command.index("OUTPUT_DIR") + 1]
                with open(os.path.join(folder, "energy_model.pth"), "wb"):
                    pass
            return subprocess.CompletedProcess(command, pretrain_code[0])
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    weight = str(tmp_path / "energy_pretrain" / "seed0" / "energy_model.pth")
    run = ("x_ebm_struct_seed0", ["SEED", "0", "ENERGY_MODEL.WEIGHT", weight])
    opts = dict(output_root=str(tmp_path / "results"), config="base.yaml", extra_opts=[])
    assert runner.execute(run, **opts) == ("x_ebm_struct_seed0", 2)
    assert len(calls) == 1 and "FAILED (2) pretraining" in caplog.text
    assert calls[0][1:] == [str(REPO / "tools" / "energy_pretrain_net.py"), "--config-file",
                            "base.yaml", "SEED", "0", "OUTPUT_DIR", os.path.dirname(weight)]
    pretrain_code[0] = 0
    assert runner.execute(run, **opts) == ("x_ebm_struct_seed0", 0)
    assert [c[1].rsplit("/", 1)[-1] for c in calls[1:]] == ["energy_pretrain_net.py",
                                                             "relation_train_net.py"]
    assert calls[2][-4:-2] == ["ENERGY_MODEL.WEIGHT", weight]
    other = ("y_ebm_struct_seed0", ["SEED", "0", "ENERGY_MODEL.WEIGHT", weight])
    assert runner.execute(other, **opts) == ("y_ebm_struct_seed0", 0)
    assert calls[3][1].endswith("relation_train_net.py")  # no second pretraining
    with pytest.raises(ExperimentError, match="is not the energy_model.pth that"):
        runner.execute(("z_seed0", ["ENERGY_MODEL.WEIGHT", str(tmp_path / "w.pth")]), **opts)
    # a test-only run (energy-guided decoding of a trained model) pretrains its energy model
    # too, without the trained model's MODEL.WEIGHT, once that model exists
    model = tmp_path / "results" / "x_ce_seed1" / "model_final.pth"
    add = str(tmp_path / "energy_pretrain_add" / "seed1" / "energy_model.pth")
    decode = ("x_ce_decode_fill_seed1", ["SEED", "1", "ENERGY_MODEL.WEIGHT", add,
                                         "MODEL.WEIGHT", str(model)])
    assert runner.execute(decode, **opts) == ("x_ce_decode_fill_seed1", 0)
    assert len(calls) == 4  # waits for its trained model; pretrains nothing yet
    model.parent.mkdir(parents=True)
    model.write_bytes(b"")
    assert runner.execute(decode, **opts) == ("x_ce_decode_fill_seed1", 0)
    assert calls[4][1:] == [str(REPO / "tools" / "energy_pretrain_net.py"), "--config-file",
                            "base.yaml", "SEED", "1", "OUTPUT_DIR", os.path.dirname(add)]
    assert calls[5][1].endswith("relation_test_net.py") and os.path.isfile(add)
    # a weight file whose pretraining still runs elsewhere (it writes the file every epoch):
    # the run waits and starts nothing; once that runner is gone, it goes ahead
    later = ("y_ce_decode_fill_seed1", decode[1])
    with claimed_by_another_runner(tmp_path / "energy_pretrain_add" / "seed1"):
        assert runner.execute(later, **opts) == ("y_ce_decode_fill_seed1", 0)
        assert len(calls) == 6 and "still pretrains" in caplog.text
    assert runner.execute(later, **opts) == ("y_ce_decode_fill_seed1", 0)
    assert len(calls) == 7 and calls[6][1].endswith("relation_test_net.py")
    assert not (tmp_path / "energy_pretrain_add" / "seed1" / ".claim").exists()


def test_run_all_refuses_a_missing_config(tmp_path):
    with pytest.raises(ExperimentError, match="config file nowhere.yaml not found"):
        runner.run_all([("a_seed0", [])], workers=1, output_root=str(tmp_path),
                       config="nowhere.yaml", extra_opts=[])
    assert list(tmp_path.iterdir()) == []


def test_tool_runs_from_another_folder_and_refuses_without_the_package(tmp_path):
    """tools/run_experiments.py lists a plan from any folder; without the package importable
    (python -S: no site-packages) it stops with one message naming the install command."""
    tool = str(REPO / "tools" / "run_experiments.py")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    listed = subprocess.run([sys.executable, tool, "--plan", "ablation", "--dry-run",
                             "--only", "tau5"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    assert [line.split()[:2] for line in listed] == [
        ["todo", f"vctree_predcls_ebm_tau5_seed{seed}"] for seed in (0, 1, 2)]
    refused = subprocess.run([sys.executable, "-S", tool, "--dry-run"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert refused.returncode == 1
    assert "No module named 'experiments'" in refused.stderr
    assert "pip install -e ." in refused.stderr
