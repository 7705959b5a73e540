"""Result tables with the structure metrics: rows, count cells, joint-decoding folders."""

import json
import runpy
import sys
from pathlib import Path

import pytest

from maskrcnn_benchmark.evaluation.compare import comparison_table, load_eval_results, metric_rows

REPO = Path(__file__).resolve().parents[2]


def _results(r: float, ctx: float | None = None, viol: float = 0.0) -> dict:
    ks = {"20": r, "50": r, "100": r}
    out = {"R": ks, "mR": ks, "ngR": ks, "ng-mR": ks, "A": None, "triplet_groups": {}}
    if ctx is not None:
        for name in ("ctxR", "ctx-mR", "ng-ctxR", "ng-ctx-mR"):
            out[name] = {"20": ctx, "50": ctx, "100": ctx}
        out["viol"] = {"20": viol, "50": 2 * viol, "100": 3 * viol}
        out["viol-any"] = {"20": 0.25, "50": 0.5, "100": 1.0}
    return out


def test_structure_rows_only_where_present():
    assert not any(k.startswith(("ctx", "ng-ctx", "viol")) for k in metric_rows(_results(0.5)))
    rows = metric_rows(_results(0.5, ctx=0.25, viol=1.5))
    assert rows["ctx-mR@50"] == 0.25 and rows["ng-ctxR@100"] == 0.25
    assert rows["viol@50"] == 3.0 and rows["viol-any@20"] == 0.25


def test_violation_counts_are_not_percent():
    table = comparison_table({"CE": {"viol@20": 12.5, "viol-any@20": 0.5},
                              "joint": {"viol@20": (0.25, 0.05), "viol-any@20": 0.1}})
    lines = table.splitlines()
    assert lines[2] == "| viol@20 | 12.50 | 0.25 ± 0.05 | -12.25 |"
    assert lines[3] == "| viol-any@20 | 50.00 | 10.00 | -40.00 |"


def _write(folder: Path, results: dict) -> None:
    folder.mkdir(parents=True)
    (folder / "eval_results.json").write_text(json.dumps(results))


def test_joint_decoding_folders(tmp_path, monkeypatch, capsys):
    plain, joint = _results(0.5, 0.2, 10.0), {**_results(0.6, 0.4, 0.5), "joint_decode": True}
    _write(tmp_path / "run" / "inference" / "syn_test", plain)
    _write(tmp_path / "run" / "inference" / "syn_test_joint_decode", joint)
    _write(tmp_path / "only_joint" / "inference" / "syn_test_joint_decode", joint)
    assert load_eval_results(str(tmp_path / "run"))["R"]["20"] == 0.5
    assert load_eval_results(str(tmp_path / "run"), joint_decode=True)["R"]["20"] == 0.6
    assert load_eval_results(str(tmp_path / "only_joint"))["joint_decode"] is True
    with pytest.raises(FileNotFoundError, match="JOINT_DECODE"):
        load_eval_results(str(tmp_path / "run"), "other_test", joint_decode=True)
    monkeypatch.setattr(sys, "argv", ["compare_results.py", f"CE={tmp_path / 'run'}",
                                      f"CE+joint={tmp_path / 'run'}:joint"])
    runpy.run_path(str(REPO / "tools" / "compare_results.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "| ctxR@50 | 20.00 | 40.00 | +20.00 |" in out
    assert "| viol@20 | 10.00 | 0.50 | -9.50 |" in out
    assert "| ctx-mR@100 | 20.00 | 40.00 | +20.00 |" in out


def test_violations_by_rule_kind_are_count_rows_behind_a_flag(tmp_path, monkeypatch, capsys):
    results = _results(0.5, ctx=0.25, viol=1.5)
    results["structure"] = {"viol_by_kind": {"pair": {"20": 1.0, "50": 2.5, "100": 4.0},
                                             "one_support": {"20": 0.5, "50": 0.5, "100": 1.0}}}
    rows = metric_rows(results)
    assert rows["viol[pair]@50"] == 2.5 and rows["viol[one_support]@100"] == 1.0
    _write(tmp_path / "run" / "inference" / "syn_test", results)
    for flag, shown in (([], False), (["--violations"], True)):
        monkeypatch.setattr(sys, "argv", ["compare_results.py", *flag, f"A={tmp_path / 'run'}",
                                          f"B={tmp_path / 'run'}"])
        runpy.run_path(str(REPO / "tools" / "compare_results.py"), run_name="__main__")
        out = capsys.readouterr().out
        # counts per image, not percent
        assert ("| viol[pair]@50 | 2.50 | 2.50 | +0.00 |" in out) is shown
    assert "| viol[one_support]@20 | 0.50 | 0.50 | +0.00 |" in out


def test_per_predicate_recall_rows_behind_a_flag(tmp_path, monkeypatch, capsys):
    results = _results(0.5, ctx=0.25, viol=1.5)
    per = {"names": ["on", "of"], "R": {"20": [0.8, 0.9], "50": [0.85, 0.95], "100": [0.9, 1.0]}}
    _write(tmp_path / "a" / "inference" / "syn_test", {**results, "per_predicate": per})
    per_b = {**per, "R": {**per["R"], "20": [0.82, 0.45]}}
    _write(tmp_path / "b" / "inference" / "syn_test", {**results, "per_predicate": per_b})
    for flag, shown in (([], False), (["--per-predicate", "20"], True)):
        monkeypatch.setattr(sys, "argv", ["compare_results.py", *flag, f"A={tmp_path / 'a'}",
                                          f"B={tmp_path / 'b'}"])
        runpy.run_path(str(REPO / "tools" / "compare_results.py"), run_name="__main__")
        out = capsys.readouterr().out
        assert ("| R[of]@20 | 90.00 | 45.00 | -45.00 |" in out) is shown
        assert ("| R[on]@20 | 80.00 | 82.00 | +2.00 |" in out) is shown
        assert "R[of]@50" not in out
