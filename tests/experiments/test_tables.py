"""experiments.tables: the RESULTS.md tables, the paired summary and the block splice."""

import pytest
from fake_runs import eval_results, write_run

from experiments import ExperimentError
from experiments.results import collect
from experiments.tables import BEGIN, END, paired, summary, tables, update


def cells_of(text: str, label: str, after: str = "") -> list[str]:
    """The cells of the first row labelled ``label`` after the line starting with ``after``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(after)) if after else 0
    row = next(line for line in lines[start:] if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in row.strip("|").split("|")]


def header_of(text: str, after: str) -> list[str]:
    """The header cells of the first table after the line starting with ``after``."""
    return cells_of(text, "setting", after)


def test_results_tables_aggregate_seeds_and_update_the_marked_block(tmp_path):
    """Two seeds of one setting give mean ± sample std; the marked block is rewritten."""
    root = tmp_path / "runs"
    for seed, recall in ((0, 0.60), (1, 0.70)):
        write_run(root, f"motifs_predcls_ce_seed{seed}", eval_results(recall))
    text = tables(collect(str(root)))
    cells = cells_of(text, "motifs CE")
    assert cells[1] == "2"
    assert cells[2] == "32.50 ± 3.54"  # mR@20: mean of 30 and 35, sample std 3.54
    assert cells[5] == "65.00 ± 7.07"  # R@20
    assert "| vctree CE | 0 | not run" in text
    # no run has the structure metrics: no such columns, no units note
    assert "ctx" not in text and "viol" not in text and "percent except" not in text
    doc = tmp_path / "RESULTS.md"
    doc.write_text(f"intro\n{BEGIN}\nold\n{END}\noutro\n")
    update(str(doc), text)
    updated = doc.read_text()
    assert updated.startswith("intro\n") and updated.endswith("outro\n")
    assert "old" not in updated and "| motifs CE | 2 |" in updated


def test_structure_columns_where_some_run_has_them(tmp_path):
    """Context recall and violation columns join a table when one of its runs has them; rows
    whose seeds do not all have them show n/a; viol is a count, the rest percent."""
    write_run(tmp_path, "motifs_predcls_ce_seed0", eval_results(0.6))
    write_run(tmp_path, "motifs_predcls_ce_seed1", eval_results(0.7))
    write_run(tmp_path, "motifs_predcls_ebm_seed0", eval_results(0.8, structure=True))
    write_run(tmp_path, "motifs_predcls_ebm_seed1", eval_results(0.8))  # evaluated earlier
    write_run(tmp_path, "vctree_predcls_ce_seed0", eval_results(0.6, structure=True))
    text = tables(collect(str(tmp_path)))
    assert header_of(text, "### predcls")[-5:] == [
        "zsR@50", "ctx-mR@50", "ctxR@50", "viol@50", "viol-any@50"]
    assert header_of(text, "### sgcls")[-1] == "zsR@50"  # no sgcls run has them
    assert header_of(text, "sgcls few-shot")[-1] == "fsR@20 (21-25)"
    assert cells_of(text, "motifs CE", "### predcls")[-4:] == ["n/a"] * 4
    assert cells_of(text, "motifs EBM", "### predcls")[-4:] == ["n/a"] * 4  # 1 of 2 seeds
    # ctx-mR = 0.6 / 2 - 0.1, ctxR = 0.6 - 0.1, 1.5 violations per image, 25 % of images
    assert cells_of(text, "vctree CE", "### predcls")[-4:] == ["20.00", "50.00", "1.50", "25.00"]
    # seed-0 tables: Motifs EBM seed 0 has them, so the variants table shows its values
    assert cells_of(text, "EBM reference (default)", "### energy-loss")[-4:] == [
        "30.00", "70.00", "1.50", "25.00"]
    assert "All values are percent except viol@K" in text.splitlines()[1]
    # the summary: Motifs PredCls pairs seeds 0 and 1, CE has no structure metrics there
    assert cells_of(text, "motifs predcls")[-6:] == ["n/a"] * 6
    assert header_of(text, "### CE vs EBM")[-3:] == [
        "viol@50 CE", "viol@50 EBM", "viol@50 EBM - CE"]


def test_paired_tables_add_all_seed_rows_only_for_multi_seed_variants():
    """Baselines with 3 seeds against a 1-seed variant: seed 0 only, no unpaired all-seed table."""
    row = {"mR@50": 0.4}
    settings = {"vctree_predcls_ce": {0: row, 1: row, 2: row},
                "vctree_predcls_ebm": {0: row, 1: row, 2: row},
                "vctree_predcls_ebm_tau0": {0: row}}
    rows = [("CE", "vctree_predcls_ce"), ("tau 0", "vctree_predcls_ebm_tau0"),
            ("tau 20", "vctree_predcls_ebm")]
    text = paired(settings, "ablation", rows)
    assert "all seeds" not in text and "| CE | 1 |" in text
    settings["vctree_predcls_ebm_tau0"][1] = row
    assert "ablation, all seeds" in paired(settings, "ablation", rows)


def test_summary_pairs_ce_and_ebm_by_seed():
    """The summary uses the seeds both methods have and reports the per-seed differences."""
    settings = {
        "motifs_predcls_ce": {0: {"mR@50": 0.40, "R@50": 0.70}, 1: {"mR@50": 0.50, "R@50": 0.72},
                              2: {"mR@50": 0.90, "R@50": 0.90}},  # no EBM seed 2: left out
        "motifs_predcls_ebm": {0: {"mR@50": 0.44, "R@50": 0.69}, 1: {"mR@50": 0.52, "R@50": 0.71}},
        "imp_sgcls_ce": {0: {"mR@50": 0.20, "R@50": 0.45}},
        "imp_sgcls_ebm": {0: {"mR@50": 0.20, "R@50": 0.46}},
    }
    text = summary(settings)
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
    assert "ctx" not in text and "viol" not in text


def test_summary_pairs_context_recall_and_violations():
    """ctx-mR@50 (percent, higher is better) and viol@50 (a count, lower is better) are paired
    like mR@50; settings without them show n/a and do not count."""
    settings = {
        "motifs_predcls_ce": {0: {"mR@50": 0.40, "R@50": 0.70, "ctx-mR@50": 0.30, "viol@50": 2.0},
                              1: {"mR@50": 0.50, "R@50": 0.72, "ctx-mR@50": 0.32, "viol@50": 1.8}},
        "motifs_predcls_ebm": {0: {"mR@50": 0.44, "R@50": 0.69, "ctx-mR@50": 0.33, "viol@50": 1.5},
                               1: {"mR@50": 0.52, "R@50": 0.71, "ctx-mR@50": 0.34,
                                   "viol@50": 1.6}},
        "imp_sgcls_ce": {0: {"mR@50": 0.20, "R@50": 0.45}},
        "imp_sgcls_ebm": {0: {"mR@50": 0.20, "R@50": 0.46}},
    }
    text = summary(settings)
    # ctx-mR@50 differences +3 and +2 points; viol@50 differences -0.5 and -0.2 violations
    assert ("| motifs predcls | 2 | 45.00 | 48.00 | +3.00 ± 1.41 | 71.00 | 70.00 | -1.00 ± 0.00 "
            "| 31.00 | 33.50 | +2.50 ± 0.71 | 1.90 | 1.55 | -0.35 ± 0.21 |" in text)
    assert ("| imp sgcls | 1 | 20.00 | 20.00 | +0.00 | 45.00 | 46.00 | +1.00 | n/a | n/a | n/a "
            "| n/a | n/a | n/a |" in text)
    assert ("- Settings where the EBM mean is above the CE mean: mR@50: 1 of 2; R@50: 1 of 2; "
            "ctx-mR@50: 1 of 1." in text)
    assert "- Settings where the EBM mean is below the CE mean: viol@50: 1 of 1." in text
    assert ("Pooled over all 2 seed pairs, ctx-mR@50 EBM - CE: +2.50 ± 0.50 (standard error), "
            "t = 5.00 (1 dof); EBM ahead in 2 of 2." in text)
    # viol@50: mean -0.35, sample std 0.212, standard error 0.15; fewer violations in both
    assert ("Pooled over all 2 seed pairs, viol@50 EBM - CE: -0.35 ± 0.15 (standard error), "
            "t = -2.33 (1 dof); EBM lower in 2 of 2." in text)


def test_update_needs_one_marked_block_and_keeps_the_file_otherwise(tmp_path):
    doc = tmp_path / "RESULTS.md"
    doc.write_text(f"intro\n{BEGIN}\nold\n")
    with pytest.raises(ExperimentError, match="needs exactly one"):
        update(str(doc), "new")
    assert doc.read_text() == f"intro\n{BEGIN}\nold\n"
    with pytest.raises(ExperimentError, match="cannot read .*missing.md"):
        update(str(tmp_path / "missing.md"), "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RESULTS.md"]


def _diagnostics_report(positive: float, probe: float, rule: bool = True) -> dict:
    """A hand-written energy_diagnostics.json (only the fields the tables read)."""
    kinds = {"random": {"accuracy": {"1": 0.5, "2": 0.5, "3": 0.5}, "spearman": 0.0}}
    if rule:
        kinds["rule"] = {"accuracy": {"1": 0.2, "2": 0.3, "3": 0.4}, "spearman": -0.25}
    return {"energies": {"positive_mean": positive, "negative_mean": -positive,
                         "grad_factor": -1e-3},
            "probe": {"accuracy": probe}, "ranking": {"kinds": kinds}}


def test_diagnostics_and_joint_decoding_tables(tmp_path):
    """EBM runs' energy_diagnostics.json become one table (energies and the factor as they
    are, accuracies in percent, rule rows n/a without the rules); a run's joint-decoding
    results sit beside its plain ones, violations as counts."""
    import json

    for seed, (positive, probe) in enumerate(((-0.5, 1.0), (-0.4, 0.9))):
        name = f"motifs_predcls_ebm_seed{seed}"
        write_run(tmp_path, name, eval_results(0.8, structure=True))
        (tmp_path / name / "energy_diagnostics.json").write_text(
            json.dumps(_diagnostics_report(positive, probe)))
    write_run(tmp_path, "vctree_sgcls_ebm_seed0", eval_results(0.6))
    (tmp_path / "vctree_sgcls_ebm_seed0" / "energy_diagnostics.json").write_text(
        json.dumps(_diagnostics_report(-0.5, 0.5, rule=False)))
    write_run(tmp_path, "motifs_predcls_ce_seed0", eval_results(0.6, structure=True))
    joint = eval_results(0.7, structure=True)
    joint["viol"] = {k: 0.5 for k in ("20", "50", "100")}
    folder = tmp_path / "motifs_predcls_ce_seed0" / "inference" / "test_joint_decode"
    folder.mkdir()
    (folder / "eval_results.json").write_text(json.dumps(joint))
    text = tables(collect(str(tmp_path)))
    diag = cells_of(text, "motifs predcls EBM", "### energy diagnostics")
    assert diag[1:6] == ["2", "-0.45 ± 0.07", "0.45 ± 0.07", "-0.0010 ± 0.0000", "95.00 ± 7.07"]
    assert diag[6:] == ["50.00 ± 0.00", "20.00 ± 0.00", "30.00 ± 0.00", "40.00 ± 0.00",
                        "-0.25 ± 0.00"]
    assert cells_of(text, "vctree sgcls EBM", "### energy diagnostics")[7:] == ["n/a"] * 4
    # joint table: only the run that has joint results; plain mR@50 30, joint 35; viol 1.5 / 0.5
    section = text.split("### joint")[1].split("###")[0]
    assert "motifs predcls EBM" not in section
    row = cells_of(text, "motifs predcls CE", "### joint")
    assert row[2:4] == ["30.00", "35.00"] and row[10:12] == ["1.50", "0.50"]
