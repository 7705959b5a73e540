"""tools/run_experiments.py: run selection by priority patterns and the run-folder claim."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOL = runpy.run_path(str(REPO / "tools" / "run_experiments.py"), run_name="run_experiments")


def test_plans_hold_the_documented_runs():
    main = TOOL["plan"]("main", "out")
    assert len(main) == 3 * 4 * 2 * 2  # seeds x predictors x tasks x {ce, ebm}
    names = [name for name, _ in main]
    assert len(set(names)) == len(names)
    ablation = dict(TOOL["plan"]("ablation", "out"))
    assert ablation["vctree_predcls_ebm_tau5_seed1"][-2:] == ["SAMPLER.ITERS", "5"]
    assert ablation["vctree_predcls_ebm_noimage_seed2"][-2:] == [
        "ENERGY_MODEL.USE_IMAGE_GRAPH", "False"]
    extras = dict(TOOL["plan"]("extras", "out"))
    refined = extras["motifs_predcls_ebm_refined_seed0"]
    assert refined[refined.index("MODEL.WEIGHT") + 1] == os.path.join(
        "out", "motifs_predcls_ebm_seed0", "model_final.pth")


def test_select_orders_by_first_matching_pattern():
    runs = [(name, []) for name in ("a_seed0", "b_seed0", "a_seed1", "c_seed0", "b_seed1")]
    picked = [name for name, _ in TOOL["select"](runs, ["^b_", "seed0", "^a_"])]
    # b runs first (plan order kept within a pattern), then the other seed0 runs, then a_seed1
    assert picked == ["b_seed0", "b_seed1", "a_seed0", "c_seed0", "a_seed1"]
    assert TOOL["select"](runs, []) == runs


def test_claim_is_exclusive_and_taken_over_from_a_dead_runner(tmp_path):
    claim = TOOL["claim"]
    assert claim(str(tmp_path))
    assert claim(str(tmp_path))  # this process already holds it
    # a live other process holds the run: not ours
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / ".claim").write_text(str(holder.pid))
        assert not claim(str(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    # the holder died: the claim is taken over and now names this process
    assert claim(str(tmp_path))
    assert (tmp_path / ".claim").read_text() == str(os.getpid())
