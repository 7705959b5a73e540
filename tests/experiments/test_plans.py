"""experiments.plans: the runs of the plans, their names and overrides."""

import os
from pathlib import Path

import pytest

from experiments import ExperimentError, plans
from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.energy import build_energy_decoder
from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS

REPO = Path(__file__).resolve().parents[2]


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
    runs = plans.build(["main", "ablation", "extras"], "out")
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
    with pytest.raises(ExperimentError,
                       match="unknown plan 'mian': main, ablation, extras, structure, paper, gqa"):
        plans.build(["main", "mian"], "out")


def test_paper_plan_adds_sgdet_and_vctree_tde_with_the_main_grid_overrides():
    main = dict(plans.plan("main", "out"))
    runs = plans.plan("paper", "out")
    names = [name for name, _ in runs]
    # seeds x (2 SGDet predictors + VCTree-TDE PredCls/SGCls/SGDet) x {ce, ebm}, then the
    # test-only energy-guided decoding of the SGDet CE models (seeds x 2 predictors)
    assert len(names) == len(set(names)) == 3 * 5 * 2 + 3 * 2 and not set(names) & set(main)
    assert names[-6:] == [f"{p}_sgdet_ce_decode_seed{s}" for s in range(3)
                          for p in ("motifs", "vctree")]
    paper = dict(runs)
    sgdet = paper["vctree_sgdet_ebm_seed1"]
    assert sgdet == main["vctree_sgcls_ebm_seed1"][:2] + [
        "MODEL.ROI_RELATION_HEAD.USE_GT_BOX", "False",
        "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL", "False",
        "MODEL.ENERGY_ON", "True", "SEED", "1"]
    tde = paper["causal_sgcls_ce_tde_seed2"]
    assert tde[:2] == ["MODEL.ROI_RELATION_HEAD.PREDICTOR", "CausalAnalysisPredictor"]
    assert tde[5] == "False" and tde[7] == "False"  # SGCls: GT boxes, predicted labels; CE
    causal = dict(zip(tde[::2], tde[1::2]))
    assert causal["MODEL.ROI_RELATION_HEAD.CAUSAL.CONTEXT_LAYER"] == "vctree"
    assert causal["MODEL.ROI_RELATION_HEAD.CAUSAL.EFFECT_TYPE"] == "TDE"
    assert "causal_sgdet_ebm_tde_seed0" in paper
    # the structure plan's decoding of PredCls/SGCls, on the SGDet CE model and task flags: the
    # seed's pretrained energy (a sibling of the output root), the CE run's weights
    decode = paper["vctree_sgdet_ce_decode_seed2"]
    assert decode[:10] == paper["vctree_sgdet_ce_seed2"][:7] + ["True", "SEED", "2"]
    assert decode[-8:] == ["ENERGY_MODEL.WEIGHT", os.path.join("energy_pretrain", "seed2",
                                                               "energy_model.pth"),
                           "TEST.ENERGY_DECODE.ON", "True", "TEST.ENERGY_DECODE.WEIGHT", "1.0",
                           "MODEL.WEIGHT",
                           os.path.join("out", "vctree_sgdet_ce_seed2", "model_final.pth")]
    with pytest.raises(ExperimentError, match="unknown task 'sgdt': predcls, sgcls, sgdet"):
        plans.run_overrides("motifs", "sgdt", False, 0)


def test_gqa_plan_trains_the_papers_gqa_models_without_the_frequency_bias():
    main = dict(plans.plan("main", "out"))
    runs = plans.plan("gqa", "out")
    names = [name for name, _ in runs]
    # seeds x (Transformer, Motifs, IMP) x (PredCls, SGCls) x {ce, ebm}; no SGDet, no VCTree
    assert len(names) == len(set(names)) == 3 * 3 * 2 * 2 and not set(names) & set(main)
    assert names[0] == "transformer_predcls_ce_gqa_seed0"
    assert not any("sgdet" in name or "vctree" in name for name in names)
    gqa = dict(runs)["imp_sgcls_ebm_gqa_seed2"]
    assert gqa[:10] == main["imp_sgcls_ebm_seed2"]  # the main grid's overrides, then GQA's
    extra = dict(zip(gqa[10::2], gqa[11::2]))
    assert extra["MODEL.ROI_RELATION_HEAD.PREDICT_USE_BIAS"] == "False"
    assert extra["DATASETS.TRAIN"] == '("synthetic_gqa_small_train",)'
    assert extra["DATASETS.TEST"] == '("synthetic_gqa_small_test",)'
    # the converter's class counts of the GQA-format synthetic set (40 + 1, 25 + 1)
    assert (extra["MODEL.ROI_BOX_HEAD.NUM_CLASSES"],
            extra["MODEL.ROI_RELATION_HEAD.NUM_CLASSES"]) == ("41", "26")
    assert extra["MODEL.PRETRAINED_DETECTOR_CKPT"] == (
        "./output/synthetic_gqa/detector/model_final.pth")


def test_structure_plan_shares_the_main_grid_runs_and_adds_the_baselines():
    main = dict(plans.plan("main", "out"))
    runs = plans.plan("structure", "out")
    names = [name for name, _ in runs]
    # trained (CE, confidence penalty, the paper's EBM; seeds 0-4), plain decoding (seeds 0-4,
    # weight 3 on seed 0), fillers rescored (seeds 0-4) / demoted / centred (seed 0), screens
    # and fillers rescored by the decoding energy itself (seeds 0-2)
    assert len(names) == len(set(names)) == 5 * 4 * 3 + 5 * 4 + 4 + 5 * 4 + 4 + 4 + 3 * 4 + 6
    shared = [(name, overrides) for name, overrides in runs if name in main]
    # CE and the paper's EBM are the main grid's runs, with the very same overrides
    assert len(shared) == 3 * 4 * 2 and all(main[name] == ovr for name, ovr in shared)
    structure = dict(runs)
    assert structure["vctree_sgcls_ce_confpen_seed2"] == main["vctree_sgcls_ce_seed2"] + [
        "MODEL.ROI_RELATION_HEAD.CONFIDENCE_PENALTY", "0.1"]
    # the structured EBM is a Motifs PredCls seed-0 screen, with no decoding runs of its own
    struct = structure["motifs_predcls_ebm_struct_seed0"]
    assert struct[:len(main["motifs_predcls_ebm_seed0"])] == main["motifs_predcls_ebm_seed0"]
    assert struct[struct.index("ENERGY_MODEL.POSITIVE_GRAPH") + 1] == "matched"
    assert not [name for name in structure if "struct" in name and not name.startswith(
        "motifs_predcls_ebm_struct") or "struct" in name and not name.endswith("_seed0")]
    assert not [name for name in structure if "struct_decode" in name]
    # screening variants differ from the structured EBM in exactly the named keys
    finetuned = dict(zip(*[iter(structure["motifs_predcls_ebm_struct_finetuned_seed0"])] * 2))
    full = dict(zip(*[iter(structure["motifs_predcls_ebm_struct_seed0"])] * 2))
    assert {k for k in full if full[k] != finetuned.get(k)} == {
        "ENERGY_MODEL.LOSS_WEIGHT", "SOLVER.ENERGY_LR_FACTOR"}
    assert finetuned["ENERGY_MODEL.LOSS_WEIGHT"] == "0.1"
    # the structured runs load their seed's pretrained energy model, except "nopretrain"
    weight = os.path.join("energy_pretrain", "seed0", "energy_model.pth")
    assert struct[-2:] == ["ENERGY_MODEL.WEIGHT", weight]
    assert plans.pretrained_energy("output/results", 1) == os.path.join(
        "output", "energy_pretrain", "seed1", "energy_model.pth")
    assert "ENERGY_MODEL.WEIGHT" not in structure["motifs_predcls_ebm_struct_nopretrain_seed0"]
    ce_decode = structure["motifs_sgcls_ce_decode_seed0"]
    assert ce_decode[ce_decode.index("MODEL.ENERGY_ON") + 1] == "True"
    assert ce_decode[-8:] == ["ENERGY_MODEL.WEIGHT", os.path.join("energy_pretrain", "seed0",
                                                                  "energy_model.pth"),
                              "TEST.ENERGY_DECODE.ON", "True", "TEST.ENERGY_DECODE.WEIGHT", "1.0",
                              "MODEL.WEIGHT",
                              os.path.join("out", "motifs_sgcls_ce_seed0", "model_final.pth")]
    assert structure["motifs_sgcls_ce_decode_w3_seed0"][-3] == "3.0"
    seed2 = structure["vctree_predcls_ce_decode_seed2"]
    assert seed2[seed2.index("ENERGY_MODEL.WEIGHT") + 1] == os.path.join(
        "energy_pretrain", "seed2", "energy_model.pth")
    assert seed2[-1] == os.path.join("out", "vctree_predcls_ce_seed2", "model_final.pth")
    assert "motifs_predcls_ce_decode_w3_seed1" not in structure
    # the fillers rescored: the decode run plus the filler keys, with the energy model of the
    # same seed pretrained with additions (ADDITIONS in the overrides, so the runner's
    # pretraining uses them)
    fill = structure["vctree_sgcls_ce_decode_fill_seed2"]
    plain = structure["vctree_sgcls_ce_decode_seed2"]
    assert dict(zip(fill[::2], fill[1::2])) == {
        **dict(zip(plain[::2], plain[1::2])),
        "ENERGY_MODEL.HARD_NEGATIVES.ADDITIONS": "0.5",
        "ENERGY_MODEL.WEIGHT": os.path.join("energy_pretrain_add", "seed2", "energy_model.pth"),
        "TEST.ENERGY_DECODE.FILLER_TOP_K": "40", "TEST.ENERGY_DECODE.FILLER_RESCORE": "True"}
    assert fill[-2:] == plain[-2:]  # the CE model of the same seed
    # ... and by the decoding energy itself: the plain decode run plus the filler keys only
    own = structure["vctree_sgcls_ce_decode_fill_plain_seed2"]
    assert dict(zip(own[::2], own[1::2])) == {
        **dict(zip(plain[::2], plain[1::2])),
        "TEST.ENERGY_DECODE.FILLER_TOP_K": "40", "TEST.ENERGY_DECODE.FILLER_RESCORE": "True"}
    assert "vctree_sgcls_ce_decode_fill_plain_seed3" not in structure
    # the fillers only demoted or centred (seed-0 screens): the rescored run plus one key, the
    # same energy model
    for suffix, key in (("demote", "FILLER_DEMOTE_ONLY"), ("center", "FILLER_CENTER")):
        variant = structure[f"vctree_sgcls_ce_decode_{suffix}_seed0"]
        rescored = structure["vctree_sgcls_ce_decode_fill_seed0"]
        assert dict(zip(variant[::2], variant[1::2])) == {
            **dict(zip(rescored[::2], rescored[1::2])), f"TEST.ENERGY_DECODE.{key}": "True"}
        assert f"motifs_predcls_ce_decode_{suffix}_seed1" not in structure
    # seeds 3-4: every method of the comparison, trained as on seeds 0-2 (the paper's EBM as
    # on the main grid, which keeps seeds 0-2), decoded plain and with fillers rescored
    assert structure["vctree_sgcls_ce_seed4"] == plans.run_overrides("vctree", "sgcls", False, 4)
    assert structure["motifs_predcls_ebm_seed3"] == plans.run_overrides("motifs", "predcls",
                                                                         True, 3)
    assert "motifs_predcls_ebm_seed3" not in main
    assert structure["motifs_sgcls_ce_confpen_seed4"] == structure["motifs_sgcls_ce_seed4"] + [
        "MODEL.ROI_RELATION_HEAD.CONFIDENCE_PENALTY", "0.1"]
    decode3 = structure["vctree_predcls_ce_decode_seed3"]
    assert decode3[decode3.index("ENERGY_MODEL.WEIGHT") + 1] == os.path.join(
        "energy_pretrain", "seed3", "energy_model.pth")
    fill4 = structure["vctree_sgcls_ce_decode_fill_seed4"]
    assert fill4[-1] == os.path.join("out", "vctree_sgcls_ce_seed4", "model_final.pth")
    assert fill4[fill4.index("ENERGY_MODEL.WEIGHT") + 1] == os.path.join(
        "energy_pretrain_add", "seed4", "energy_model.pth")
    extra = sorted(name.rsplit("_seed", 1)[0] for name in structure
                   if name.endswith(("seed3", "seed4")))
    assert extra == sorted(f"{p}_{t}_{m}" for p, t in plans.STRUCTURE_SETTINGS for m in (
        "ce", "ce_confpen", "ebm", "ce_decode", "ce_decode_fill") for _ in (3, 4))
    assert [seed for seed, _ in plans.pretraining_runs("out")] == [0, 1, 2, 3, 4]
    seed, opts = plans.pretraining_runs("output/results")[2]
    assert opts[-2:] == ["OUTPUT_DIR", os.path.join("output", "energy_pretrain", "seed2")]


def test_replaced_names_an_unknown_key():
    assert plans.replaced(("A.B", "1", "C", "2"), A__B="3") == ("A.B", "3", "C", "2")
    assert plans.replaced(("A.B", "1", "C", "2"), C=None) == ("A.B", "1")
    with pytest.raises(ExperimentError, match="A.X is not among the overrides"):
        plans.replaced(("A.B", "1"), A__X="0")


def test_quickstart_decoding_config_holds_the_plans_structured_energy_model():
    """configs/quickstart/motifs_predcls_energy_decode.yaml (docs/QUICKSTART.md) pretrains and
    decodes with the energy model of the structure plan: the same ENERGY_MODEL keys but the
    relation-training loss weight."""
    shipped = get_cfg()
    shipped.merge_from_file(str(REPO / "configs" / "quickstart"
                                / "motifs_predcls_energy_decode.yaml"))
    planned = get_cfg()
    planned.merge_from_file(str(REPO / "configs" / "quickstart" / "motifs_predcls.yaml"))
    planned.merge_from_list(["MODEL.ENERGY_ON", "True", *plans.STRUCTURED_EBM])
    planned.ENERGY_MODEL.LOSS_WEIGHT = shipped.ENERGY_MODEL.LOSS_WEIGHT
    assert shipped.ENERGY_MODEL == planned.ENERGY_MODEL
    assert shipped.MODEL.ROI_RELATION_HEAD == planned.MODEL.ROI_RELATION_HEAD
    decoder = build_energy_decoder(shipped, 35)
    assert decoder is not None and decoder.weight == 1.0 and decoder.filler_top_k == 0
