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


def test_refinement_run_waits_for_its_training_run(tmp_path, capsys):
    """A test-only run whose model_final.pth is missing starts nothing and leaves nothing."""
    import argparse

    args = argparse.Namespace(output_root=str(tmp_path), config="unused.yaml", opts=[])
    weight = str(tmp_path / "train_run" / "model_final.pth")
    name, code = TOOL["execute"](("refined", ["MODEL.WEIGHT", weight]), args)
    assert (name, code) == ("refined", 0)
    assert not (tmp_path / "refined").exists()  # no folder, no claim, no tool launched
    assert f"waiting (no {weight} yet" in capsys.readouterr().out


def test_results_tables_aggregate_seeds_and_update_the_marked_block(tmp_path):
    """Two seeds of one setting give mean ± sample std; the marked block is rewritten."""
    import json

    tables = runpy.run_path(str(REPO / "tools" / "results_tables.py"), run_name="results_tables")
    root = tmp_path / "runs"
    for seed, recall in ((0, 0.60), (1, 0.70)):
        folder = root / f"motifs_predcls_ce_seed{seed}" / "inference" / "test"
        folder.mkdir(parents=True)
        at_k = {name: {k: value for k in ("20", "50", "100")}
                for name, value in (("R", recall), ("ngR", recall), ("mR", recall / 2),
                                    ("ng-mR", recall / 2))}
        results = {"mode": "predcls", **at_k}
        (folder / "eval_results.json").write_text(json.dumps(results))
    text = tables["tables"](tables["collect"](str(root)))
    row = next(line for line in text.splitlines() if line.startswith("| motifs CE |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "2"
    assert cells[2] == "32.50 ± 3.54"  # mR@20: mean of 30 and 35, sample std 3.54
    assert cells[5] == "65.00 ± 7.07"  # R@20
    assert "| vctree CE | 0 | not run" in text
    doc = tmp_path / "RESULTS.md"
    doc.write_text(f"intro\n{tables['BEGIN']}\nold\n{tables['END']}\noutro\n")
    tables["update"](str(doc), text)
    updated = doc.read_text()
    assert updated.startswith("intro\n") and updated.endswith("outro\n")
    assert "old" not in updated and "| motifs CE | 2 |" in updated


def test_paired_tables_add_all_seed_rows_only_for_multi_seed_variants():
    """Baselines with 3 seeds against a 1-seed variant: seed 0 only, no unpaired all-seed table."""
    tables = runpy.run_path(str(REPO / "tools" / "results_tables.py"), run_name="results_tables")
    row = {"mR@50": 0.4}
    settings = {"vctree_predcls_ce": {0: row, 1: row, 2: row},
                "vctree_predcls_ebm": {0: row, 1: row, 2: row},
                "vctree_predcls_ebm_tau0": {0: row}}
    rows = [("CE", "vctree_predcls_ce"), ("tau 0", "vctree_predcls_ebm_tau0"),
            ("tau 20", "vctree_predcls_ebm")]
    text = tables["paired"](settings, "ablation", rows)
    assert "all seeds" not in text and "| CE | 1 |" in text
    settings["vctree_predcls_ebm_tau0"][1] = row
    assert "ablation, all seeds" in tables["paired"](settings, "ablation", rows)


def test_summary_pairs_ce_and_ebm_by_seed():
    """The summary uses the seeds both methods have and reports the per-seed differences."""
    tables = runpy.run_path(str(REPO / "tools" / "results_tables.py"), run_name="results_tables")
    settings = {
        "motifs_predcls_ce": {0: {"mR@50": 0.40, "R@50": 0.70}, 1: {"mR@50": 0.50, "R@50": 0.72},
                              2: {"mR@50": 0.90, "R@50": 0.90}},  # no EBM seed 2: left out
        "motifs_predcls_ebm": {0: {"mR@50": 0.44, "R@50": 0.69}, 1: {"mR@50": 0.52, "R@50": 0.71}},
        "imp_sgcls_ce": {0: {"mR@50": 0.20, "R@50": 0.45}},
        "imp_sgcls_ebm": {0: {"mR@50": 0.20, "R@50": 0.46}},
    }
    text = tables["summary"](settings)
    # mR@50 differences +4 and +2 points: mean +3.00, sample std 1.41; R@50 -1 and -1
    assert ("| motifs predcls | 2 | 45.00 | 48.00 | +3.00 ± 1.41 | 71.00 | 70.00 | -1.00 ± 0.00 |"
            in text)
    assert "| imp sgcls | 1 | 20.00 | 20.00 | +0.00 | 45.00 | 46.00 | +1.00 |" in text
    assert "| vctree predcls | 0 | not run" in text
    # a tie is not "ahead": mR@50 ahead in motifs predcls only, R@50 in imp sgcls only
    assert "mR@50: 1 of 2; R@50: 1 of 2" in text
    # pooled mR@50 differences +4, +2, 0: mean +2, sample std 2, standard error 2/sqrt(3)
    assert ("Pooled over all 3 seed pairs, mR@50 EBM - CE: +2.00 ± 1.15 (standard error), "
            "t = 1.73 (2 dof); EBM ahead in 2 of 3." in text)
