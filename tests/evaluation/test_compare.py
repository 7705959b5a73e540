"""Result tables: flattening eval_results.json, seed aggregation and the Markdown table."""

import json

import pytest

from maskrcnn_benchmark.evaluation.compare import (
    aggregate_runs,
    comparison_table,
    energy_ranking_rows,
    load_eval_results,
    metric_rows,
)


def _results(r20: float, m20: float, zs: float | None) -> dict:
    ks = {"20": r20, "50": r20 + 0.1, "100": r20 + 0.2}
    return {
        "R": ks, "mR": {"20": m20, "50": m20, "100": m20}, "ngR": ks, "ng-mR": ks, "A": {},
        "triplet_groups": {
            "zero-shot": {"kind": "zero-shot", "R": {"20": zs, "50": zs, "100": zs}},
            "1-5": {"kind": "few-shot bin", "R": {"20": 0.3, "50": 0.4, "100": 0.5}},
        },
        "detection": {"mAP@0.5": 0.75},
        "per_predicate": {"names": ["on", "has"],
                          "R": {k: [r20 / 2, None] for k in ("20", "50", "100")}},
    }


def test_metric_rows_flatten_groups_and_detection():
    rows = metric_rows(_results(0.5, 0.2, None))
    assert rows["R@50"] == pytest.approx(0.6) and rows["mR@100"] == 0.2
    assert rows["zsR@20"] is None and rows["fsR@50 (1-5)"] == 0.4
    assert rows["mAP@0.5"] == 0.75 and "A@20" not in rows
    assert rows["R[on]@50"] == 0.25 and rows["R[has]@20"] is None


def test_aggregate_mean_and_sample_std_skip_missing():
    runs = [metric_rows(_results(0.5, 0.2, 0.1)), metric_rows(_results(0.7, 0.4, None))]
    agg = aggregate_runs(runs)
    mean, std = agg["R@20"]
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1414213, rel=1e-5)
    assert agg["zsR@20"] == (0.1, 0.0)  # one seed had no value


def test_table_has_percent_cells_and_delta():
    table = comparison_table({"CE": {"mR@20": 0.2}, "EBM": {"mR@20": (0.25, 0.01)}})
    lines = table.splitlines()
    assert lines[0] == "| metric | CE | EBM | Δ (last - first) |"
    assert lines[2] == "| mR@20 | 20.00 | 25.00 ± 1.00 | +5.00 |"


def test_load_eval_results_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="eval_results.json"):
        load_eval_results(str(tmp_path))
    for name in ("a_test", "b_test"):
        folder = tmp_path / "inference" / name
        folder.mkdir(parents=True)
        (folder / "eval_results.json").write_text(json.dumps(_results(0.1, 0.1, 0.1)))
    with pytest.raises(ValueError, match="several datasets"):
        load_eval_results(str(tmp_path))
    assert load_eval_results(str(tmp_path), "b_test")["R"]["20"] == 0.1


def test_energy_ranking_rows_read_rank_only_or_pretraining_files(tmp_path):
    ranking = {"random": {"accuracy": {"1": 0.8, "2": 0.9}},
               "rule_addition>addition": {"accuracy": {"1": 0.55}}}
    ranked, pretrained = tmp_path / "ranked", tmp_path / "pretrained"
    ranked.mkdir()
    pretrained.mkdir()
    (ranked / "energy_ranking.json").write_text(json.dumps({"test": ranking}))
    # a pretraining folder: its own test ranking, unless a --rank-only file is beside it
    (pretrained / "energy_pretrain.json").write_text(json.dumps(
        {"epochs": [], "test": {"random": {"accuracy": {"1": 0.7}}}}))
    assert energy_ranking_rows(str(ranked)) == {
        "random k=1": 0.8, "random k=2": 0.9, "rule_addition>addition k=1": 0.55}
    assert energy_ranking_rows(str(pretrained)) == {"random k=1": 0.7}
    (pretrained / "energy_ranking.json").write_text(json.dumps({"test": ranking}))
    assert energy_ranking_rows(str(pretrained))["random k=1"] == 0.8
    (ranked / "energy_ranking.json").write_text(json.dumps({"weight": "x"}))
    with pytest.raises(ValueError, match="has no 'test' ranking"):
        energy_ranking_rows(str(ranked))
    with pytest.raises(FileNotFoundError, match="--rank-only for a saved model"):
        energy_ranking_rows(str(tmp_path))
