"""experiments.plans: the runs of the plans, their names and overrides."""

import os

import pytest

from experiments import ExperimentError, plans
from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS


def test_plans_hold_the_documented_runs():
    main = plans.plan("main", "out")
    assert len(main) == 3 * 4 * 2 * 2  # seeds x predictors x tasks x {ce, ebm}
    names = [name for name, _ in main]
    assert len(set(names)) == len(names)
    ablation = dict(plans.plan("ablation", "out"))
    assert ablation["vctree_predcls_ebm_tau5_seed1"][-2:] == ["SAMPLER.ITERS", "5"]
    assert ablation["vctree_predcls_ebm_noimage_seed2"][-2:] == [
        "ENERGY_MODEL.USE_IMAGE_GRAPH", "False"]
    extras = dict(plans.plan("extras", "out"))
    refined = extras["motifs_predcls_ebm_refined_seed0"]
    assert refined[refined.index("MODEL.WEIGHT") + 1] == os.path.join(
        "out", "motifs_predcls_ebm_seed0", "model_final.pth")


def test_predictor_names_come_from_the_registry():
    """Run names use the predictor's file name, the override its registered name."""
    assert [plans.registered_predictor(p) for p in plans.PREDICTORS] == [
        "MotifPredictor", "VCTreePredictor", "IMPPredictor", "TransformerPredictor"]
    assert all(plans.registered_predictor(p) in RELATION_PREDICTORS for p in plans.PREDICTORS)
    # the exact overrides of a run did not change with the move into the package
    assert dict(plans.plan("main", "out"))["motifs_sgcls_ebm_seed2"] == [
        "MODEL.ROI_RELATION_HEAD.PREDICTOR", "MotifPredictor",
        "MODEL.ROI_RELATION_HEAD.USE_GT_BOX", "True",
        "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL", "False",
        "MODEL.ENERGY_ON", "True", "SEED", "2"]
    with pytest.raises(ExperimentError, match="predictor 'motif' names 0 .*'motifs'"):
        plans.run_overrides("motif", "predcls", True, 0)


def test_all_plans_have_89_distinct_runs_and_tables_name_them():
    runs = plans.build(list(plans.PLANS), "out")
    names = [name for name, _ in runs]
    assert len(runs) == 48 + 3 * 3 + 3 * 8 + 8 == 89 and len(set(names)) == 89
    settings = {plans.RUN_NAME.match(name)["setting"] for name in names}
    # every row of the two studies is a setting some plan runs (baselines from the main grid)
    for study in (plans.ABLATION, plans.ENERGY_VARIANTS):
        assert {setting for _, setting in study.rows()} <= settings
    assert plans.ENERGY_VARIANTS.rows()[1] == ("EBM reference (default)", "motifs_predcls_ebm")
    extras = dict(runs)
    assert extras["motifs_predcls_ebm_matched_descend_seed1"][-4:] == [
        "ENERGY_MODEL.POSITIVE_GRAPH", "matched", "SAMPLER.GRAD_MODE", "descend"]
    assert "transformer_sgcls_ebm_refined_seed0" in extras
    assert not any(name.endswith("refined_seed1") for name in names)


def test_unknown_plan_is_one_clear_error():
    with pytest.raises(ExperimentError, match="unknown plan 'mian': main, ablation, extras"):
        plans.build(["main", "mian"], "out")
