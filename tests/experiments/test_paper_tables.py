"""experiments.paper_tables: the paper's Tables 1-3 from run folders."""

from fake_runs import eval_results, write_run

from experiments.paper_tables import PAPER_BEGIN, PAPER_END, paper_tables
from experiments.results import collect
from experiments.tables import update


def _with_groups(recall: float, zero_shot: float, few_shot: float) -> dict:
    """eval_results with a zero-shot group and a few-shot bin (every K the same value)."""
    results = eval_results(recall)
    results["triplet_groups"] = {
        "zero-shot": {"kind": "zero-shot", "R": dict.fromkeys(("20", "50", "100"), zero_shot)},
        "1-5": {"kind": "few-shot", "R": dict.fromkeys(("20", "50", "100"), few_shot)}}
    return results


def _cells(text: str, model: str, method: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {model} | {method} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_table_1_pairs_ebm_with_ce_per_task_and_lists_missing_settings(tmp_path):
    # Motifs SGDet: CE recall 0.4 / 0.5 (mR 20 / 25), EBM 0.44 / 0.52 (mR 22 / 26) on seeds
    # 0 and 1; EBM seed 2 has no CE partner. VCTree-TDE PredCls CE only.
    for seed, ce, ebm in ((0, 0.4, 0.44), (1, 0.5, 0.52)):
        write_run(tmp_path, f"motifs_sgdet_ce_seed{seed}", _with_groups(ce, 0.1, 0.2))
        write_run(tmp_path, f"motifs_sgdet_ebm_seed{seed}", _with_groups(ebm, 0.1, 0.3))
    write_run(tmp_path, "motifs_sgdet_ebm_seed2", _with_groups(0.9, 0.1, 0.3))
    write_run(tmp_path, "causal_predcls_ce_tde_seed0", _with_groups(0.6, 0.05, 0.1))
    write_run(tmp_path, "vctree_sgdet_ebm_seed0", _with_groups(0.3, 0.0, 0.45))
    text = paper_tables(collect(str(tmp_path)))
    table1 = text.split("### Table 2")[0]
    ce = _cells(table1, "Motifs", "CE")
    assert ce[2] == "0/0/2" and ce[3:9] == ["not run"] * 6
    assert ce[9:] == ["22.50 ± 3.54"] * 3  # mR = R / 2 of 0.4 and 0.5
    ebm = _cells(table1, "Motifs", "EBM")
    # 22, 26 and 45: mean 31, sample std sqrt((81 + 25 + 196) / 2) = 12.29
    assert ebm[2] == "0/0/3" and ebm[9] == "31.00 ± 12.29"
    # paired on seeds 0 and 1 only: +2 and +1 points
    assert _cells(table1, "Motifs", "EBM - CE (seeds)")[9:] == ["+1.50 ± 0.71 (2)"] * 3
    tde = _cells(table1, "VCTree-TDE", "CE")
    assert tde[2] == "1/0/0" and tde[3] == "30.00" and tde[6] == "not run"
    assert "| VCTree-TDE | EBM - CE" not in table1  # nothing to pair
    # Table 2: zero-shot recall; Table 3: the few-shot bins of VCTree SGDet
    table2 = text.split("### Table 2")[1].split("### Table 3")[0]
    assert _cells(table2, "VCTree-TDE", "CE")[3:5] == ["5.00", "5.00"]
    table3 = text.split("### Table 3")[1]
    assert "| VCTree SGDet EBM | 1 | 45.00 |" in table3
    assert "| VCTree SGDet CE | 0 | not run |" in table3
    assert "EBM - CE" not in table3  # no CE run to pair with
    write_run(tmp_path, "vctree_sgdet_ce_seed0", _with_groups(0.3, 0.0, 0.40))
    table3 = paper_tables(collect(str(tmp_path))).split("### Table 3")[1]
    assert "| VCTree SGDet EBM - CE (seeds) | | +5.00 (1) |" in table3


def test_gqa_format_rows_have_predcls_and_sgcls_and_a_dash_under_sgdet(tmp_path):
    write_run(tmp_path, "motifs_predcls_ce_gqa_seed0", _with_groups(0.2, 0.1, 0.0))
    write_run(tmp_path, "motifs_predcls_ebm_gqa_seed0", _with_groups(0.3, 0.2, 0.0))
    write_run(tmp_path, "motifs_predcls_ce_seed0", _with_groups(0.8, 0.0, 0.0))  # VG row
    text = paper_tables(collect(str(tmp_path)))
    table1 = text.split("### Table 2")[0]
    ce = _cells(table1, "GQA-format Motifs", "CE")
    assert ce[2] == "1/0/-" and ce[3:6] == ["10.00"] * 3 and ce[6:9] == ["not run"] * 3
    assert ce[9:] == ["-"] * 3  # the paper omits SGDet on GQA
    assert _cells(table1, "GQA-format Motifs", "EBM - CE (seeds)")[3] == "+5.00 (1)"
    assert _cells(table1, "Motifs", "CE")[3] == "40.00"  # the VG row keeps its own runs
    assert _cells(table1, "GQA-format IMP", "CE")[2:4] == ["0/0/-", "not run"]
    table2 = text.split("### Table 2")[1].split("### Table 3")[0]
    assert _cells(table2, "GQA-format Motifs", "EBM")[3:5] == ["20.00", "20.00"]


def test_paper_tables_have_their_own_marked_block(tmp_path):
    write_run(tmp_path, "imp_predcls_ce_seed0", eval_results(0.5))
    doc = tmp_path / "RESULTS.md"
    doc.write_text(f"intro\n{PAPER_BEGIN}\nold\n{PAPER_END}\nrest\n")
    update(str(doc), paper_tables(collect(str(tmp_path))), PAPER_BEGIN, PAPER_END)
    written = doc.read_text()
    assert written.startswith("intro\n") and written.endswith(f"{PAPER_END}\nrest\n")
    assert "old" not in written and "| IMP | CE | 1/0/0 | 25.00 | 25.00 | 25.00 |" in written


def test_main_and_paper_sections_keep_the_main_seeds(tmp_path):
    from experiments.sections import collect_main_seeds, section_text

    # CE seed 3 exists (the structure plan's extra seeds): not in the CE-against-EBM tables
    for seed, recall in ((0, 0.4), (1, 0.6), (3, 0.9)):
        write_run(tmp_path, f"imp_predcls_ce_seed{seed}", eval_results(recall))
    assert sorted(collect_main_seeds(str(tmp_path))["imp_predcls_ce"]) == [0, 1]
    assert sorted(collect(str(tmp_path))["imp_predcls_ce"]) == [0, 1, 3]
    row = next(line for line in section_text("paper", str(tmp_path)).splitlines()
               if line.startswith("| IMP | CE |"))
    assert row.startswith("| IMP | CE | 2/0/0 | 25.00 ± 7.07 |")  # seeds 0-1 (mR = R / 2)
