"""experiments.retrieval_tables: the paper's Table 4 from retrieval test reports."""

import json

import pytest

from experiments import ExperimentError
from experiments.retrieval_tables import collect_retrieval, retrieval_table


def _report(r20: float, r100: float, full: float) -> dict:
    """A tools/image_retrieval.py test report: galleries of 1,000 and 1,832 (5,000 asked)."""
    def gallery(asked, used, recall20, recall100):
        return {"requested_size": asked, "gallery_size": used,
                "recall": {"20": recall20, "100": recall100},
                "chance_recall": {"20": 20 / used, "100": 100 / used}}
    return {"galleries": [gallery(1000, 1000, r20, r100), gallery(5000, 1832, full, full)]}


def _write(root, source: str, seed: int, report: dict | str) -> None:
    folder = root / source / f"seed{seed}" / "retrieval"
    folder.mkdir(parents=True)
    (folder / "test.json").write_text(report if isinstance(report, str) else json.dumps(report))


def test_table_4_rows_are_mean_and_std_over_retrieval_seeds(tmp_path):
    _write(tmp_path, "own/motifs_sgdet_ce_seed0", 0, _report(0.10, 0.40, 0.05))
    _write(tmp_path, "own/motifs_sgdet_ce_seed0", 1, _report(0.20, 0.60, 0.07))
    _write(tmp_path, "judge/motifs_sgdet_ce_seed0", 0, _report(0.30, 0.50, 0.10))
    _write(tmp_path, "ground_truth", 0, _report(0.95, 1.0, 0.9))
    (tmp_path / "own" / "motifs_sgdet_ebm_seed0").mkdir()  # no finished training: no row
    text = retrieval_table(collect_retrieval(str(tmp_path)))
    lines = text.splitlines()
    assert lines[0] == ("| graphs | seeds (runs x retrieval) | R@20 (1,000) | R@100 (1,000) | "
                        "R@20 (1,832 of 5,000 asked) | R@100 (1,832 of 5,000 asked) |")
    assert lines[2] == "| annotated graphs (oracle) | 1 | 95.00 | 100.00 | 90.00 | 90.00 |"
    # 10 and 20: mean 15, sample std 7.07; 40 and 60: 50 ± 14.14; 5 and 7: 6 ± 1.41
    assert lines[3] == ("| motifs SGDet CE, scored by the oracle's retrieval model | 1 x 1 | "
                        "30.00 | 50.00 | 10.00 | 10.00 |")
    assert lines[4] == ("| motifs SGDet CE, trained on its own graphs (SGB) | 1 x 2 | "
                        "15.00 ± 7.07 | 50.00 ± 14.14 | 6.00 ± 1.41 | 6.00 ± 1.41 |")
    assert len(lines) == 5 + 2 and "gallery 1,000: R@20 2.00" in lines[-1]


def test_run_seeds_are_pooled_and_ebm_is_paired_with_ce_by_both_seeds(tmp_path):
    # CE: run seed 0 (retrieval seeds 0, 1) and run seed 1 (retrieval seed 0);
    # EBM: run seed 0 (retrieval seeds 0, 1) and run seed 2 (no CE partner)
    _write(tmp_path, "judge/vctree_sgdet_ce_seed0", 0, _report(0.10, 0.50, 0.10))
    _write(tmp_path, "judge/vctree_sgdet_ce_seed0", 1, _report(0.20, 0.50, 0.10))
    _write(tmp_path, "judge/vctree_sgdet_ce_seed1", 0, _report(0.30, 0.50, 0.10))
    _write(tmp_path, "judge/vctree_sgdet_ebm_seed0", 0, _report(0.15, 0.50, 0.10))
    _write(tmp_path, "judge/vctree_sgdet_ebm_seed0", 1, _report(0.21, 0.50, 0.10))
    _write(tmp_path, "judge/vctree_sgdet_ebm_seed2", 0, _report(0.90, 0.50, 0.10))
    lines = retrieval_table(collect_retrieval(str(tmp_path))).splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:5]]
    # CE over 3 (run, retrieval) seeds: 10, 20, 30 -> 20 ± 10
    assert cells[0][:3] == ["vctree SGDet CE, scored by the oracle's retrieval model", "2 x 2",
                            "20.00 ± 10.00"]
    # EBM: 15, 21, 90 -> 42 ± 41.68
    assert cells[1][:3] == ["vctree SGDet EBM, scored by the oracle's retrieval model", "2 x 2",
                            "42.00 ± 41.68"]
    # paired on (0, 0) and (0, 1) only: +5 and +1 -> +3 ± 2.83; R@100 equal -> +0.00 ± 0.00
    assert cells[2][:4] == ["vctree SGDet EBM - CE (paired), scored by the oracle's retrieval "
                            "model", "1 x 2", "+3.00 ± 2.83", "+0.00 ± 0.00"]


def test_unreadable_report_is_one_clear_error(tmp_path):
    _write(tmp_path, "judge/vctree_sgdet_ebm_seed0", 0, "{not json")
    with pytest.raises(ExperimentError, match="vctree_sgdet_ebm_seed0/seed0/retrieval/test.json: "
                                              "unreadable retrieval report"):
        collect_retrieval(str(tmp_path))
    with pytest.raises(ExperimentError, match="run scripts/retrieval_table4.sh first"):
        collect_retrieval(str(tmp_path / "missing"))


def test_sections_read_their_own_runs(tmp_path):
    from experiments.sections import SECTIONS, section_text

    _write(tmp_path, "ground_truth", 0, _report(0.95, 1.0, 0.9))
    assert section_text("retrieval", str(tmp_path)).splitlines()[2].startswith(
        "| annotated graphs (oracle) | 1 | 95.00 |")
    assert SECTIONS["retrieval"].default_root == "output/s2g"
    assert SECTIONS["paper"].default_root == "output/results"
    with pytest.raises(ExperimentError, match="unknown section 'papr': main, structure, paper"):
        section_text("papr", str(tmp_path))


def test_the_extended_gallery_gets_its_own_table_where_tested(tmp_path):
    from experiments.sections import section_text

    _write(tmp_path, "judge/motifs_sgdet_ce_seed0", 0, _report(0.30, 0.50, 0.10))
    assert "extended gallery" not in section_text("retrieval", str(tmp_path))
    folder = tmp_path / "judge" / "motifs_sgdet_ce_seed0" / "seed0" / "retrieval"
    extended = _report(0.30, 0.50, 0.04)
    extended["galleries"][1].update(gallery_size=5000, chance_recall={"20": 0.004, "100": 0.02})
    (folder / "test_5000.json").write_text(json.dumps(extended))
    text = section_text("retrieval", str(tmp_path))
    first, second = text.split("The extended gallery")
    assert "R@20 (1,832 of 5,000 asked)" in first and "| 30.00 | 50.00 | 10.00 | 10.00 |" in first
    lines = second.split("\n\n")[1].splitlines()
    assert lines[0].endswith("| R@20 (1,000) | R@100 (1,000) | R@20 (5,000) | R@100 (5,000) |")
    assert lines[2].endswith("| 1 x 1 | 30.00 | 50.00 | 4.00 | 4.00 |")
    assert "gallery 5,000: R@20 0.40" in second


def test_the_decoded_ce_model_is_paired_with_its_ce_model(tmp_path):
    # the plan paper's test-only runs <predictor>_sgdet_ce_decode_seed<k>: the CE model's graphs
    # after energy-guided decoding, paired with the same model's plain graphs
    _write(tmp_path, "judge/motifs_sgdet_ce_seed0", 0, _report(0.30, 0.50, 0.10))
    _write(tmp_path, "judge/motifs_sgdet_ce_seed0", 1, _report(0.40, 0.50, 0.10))
    _write(tmp_path, "judge/motifs_sgdet_ce_decode_seed0", 0, _report(0.36, 0.45, 0.10))
    _write(tmp_path, "judge/motifs_sgdet_ce_decode_seed0", 1, _report(0.42, 0.45, 0.10))
    lines = retrieval_table(collect_retrieval(str(tmp_path))).splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:5]]
    assert [row[0] for row in cells] == [
        "motifs SGDet CE, scored by the oracle's retrieval model",
        "motifs SGDet CE + energy-guided decoding, scored by the oracle's retrieval model",
        "motifs SGDet CE + energy-guided decoding - CE (paired), scored by the oracle's "
        "retrieval model"]
    # +6 and +2 -> +4 ± 2.83; R@100 -5 on both seeds
    assert cells[2][1:4] == ["1 x 2", "+4.00 ± 2.83", "-5.00 ± 0.00"]


def test_the_seed0_section_keeps_run_seed_0_and_the_oracle(tmp_path):
    from experiments.sections import SECTIONS, section_text

    _write(tmp_path, "ground_truth", 0, _report(0.95, 1.0, 0.9))
    _write(tmp_path, "judge/motifs_sgdet_ce_seed0", 0, _report(0.30, 0.50, 0.10))
    _write(tmp_path, "judge/motifs_sgdet_ce_seed1", 0, _report(0.50, 0.50, 0.10))
    _write(tmp_path, "own/motifs_sgdet_ce_seed10", 0, _report(0.70, 0.50, 0.10))
    pooled = section_text("retrieval", str(tmp_path)).splitlines()
    assert pooled[3].endswith("| 2 x 1 | 40.00 ± 14.14 | 50.00 ± 0.00 | 10.00 ± 0.00 | "
                              "10.00 ± 0.00 |")
    seed0 = section_text("retrieval-seed0", str(tmp_path)).splitlines()
    assert seed0[2].startswith("| annotated graphs (oracle) | 1 | 95.00 |")
    assert seed0[3].endswith("| 1 x 1 | 30.00 | 50.00 | 10.00 | 10.00 |")
    assert len(seed0) == 4 + 2  # seed 10's row is gone with seed 1's
    assert SECTIONS["retrieval-seed0"].begin == "<!-- retrieval_seed0_tables:begin -->"
