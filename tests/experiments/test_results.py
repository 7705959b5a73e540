"""experiments.results: metric rows of the run folders, structure families, bad files."""

import json

import pytest
from fake_runs import eval_results, write_run

from experiments import ExperimentError
from experiments.results import aggregate, collect, run_eval_results, run_rows


def test_rows_add_the_structure_families_where_present():
    rows = run_rows(eval_results(0.6, structure=True))
    assert rows["ctxR@50"] == pytest.approx(0.5) and rows["ng-ctx-mR@100"] == 0.3
    assert rows["viol@20"] == 1.5 and rows["viol-any@50"] == 0.25 and rows["R@50"] == 0.6
    assert not any(key.startswith(("ctx", "viol")) for key in run_rows(eval_results(0.6)))


def test_collect_groups_runs_by_setting_and_seed(tmp_path):
    write_run(tmp_path, "motifs_predcls_ce_seed0", eval_results(0.6))
    write_run(tmp_path, "motifs_predcls_ce_seed2", eval_results(0.7, structure=True))
    (tmp_path / "motifs_predcls_ebm_seed0").mkdir()  # started, not finished: left out
    (tmp_path / "notes").mkdir()
    settings = collect(str(tmp_path))
    assert list(settings) == ["motifs_predcls_ce"]
    assert sorted(settings["motifs_predcls_ce"]) == [0, 2]
    assert settings["motifs_predcls_ce"][2]["viol@50"] == 1.5


def test_aggregate_leaves_out_metrics_some_seeds_lack():
    """An old seed without the structure metrics: no mean over the other seeds only."""
    old, new = run_rows(eval_results(0.6)), run_rows(eval_results(0.8, structure=True))
    agg = aggregate([old, new])
    assert agg["R@50"] == (pytest.approx(0.7), pytest.approx(0.1414213, rel=1e-5))
    assert "ctxR@50" not in agg and "viol@50" not in agg
    assert aggregate([new, new])["viol@50"] == (1.5, 0.0)


@pytest.mark.parametrize("text, needle", [
    ("{not json", "JSONDecodeError"),
    (json.dumps({"mode": "predcls"}), "KeyError: 'R'"),
    (json.dumps({**eval_results(0.5), "viol": {"20": 1.0}}), "KeyError: '50'"),
])
def test_unreadable_results_name_the_run(tmp_path, text, needle):
    write_run(tmp_path, "imp_sgcls_ebm_seed1", text)
    with pytest.raises(ExperimentError, match="imp_sgcls_ebm_seed1: unreadable") as error:
        collect(str(tmp_path))
    assert needle in str(error.value) and "tools/relation_test_net.py" in str(error.value)


def test_missing_output_root_is_an_error(tmp_path):
    with pytest.raises(ExperimentError, match="no folder .*nowhere: pass the --output-root"):
        collect(str(tmp_path / "nowhere"))


def test_a_run_tested_on_other_data_sets_too_reads_its_own_test_set(tmp_path):
    """A retrieval gallery's extension (or SGB's train-split test) beside the run's test: the
    tables read the config's DATASETS.TEST, not an error and not the other data set."""
    write_run(tmp_path, "vctree_sgdet_ce_seed0", eval_results(0.6))  # inference/test
    other = tmp_path / "vctree_sgdet_ce_seed0" / "inference" / "ext_test"
    other.mkdir()
    (other / "eval_results.json").write_text(json.dumps(eval_results(0.2)))
    (tmp_path / "vctree_sgdet_ce_seed0" / "config.yaml").write_text(
        "DATASETS:\n  TEST:\n  - test\n  TRAIN:\n  - train\n")
    assert run_eval_results(str(tmp_path / "vctree_sgdet_ce_seed0"))["R"]["50"] == 0.6
    assert collect(str(tmp_path))["vctree_sgdet_ce"][0]["R@50"] == 0.6
    (tmp_path / "vctree_sgdet_ce_seed0" / "config.yaml").write_text(
        "DATASETS:\n  TEST:\n  - ext_test\n")
    assert run_eval_results(str(tmp_path / "vctree_sgdet_ce_seed0"))["R"]["50"] == 0.2
