"""Run names, settings and config overrides of the docs/RESULTS.md plans main/ablation/extras.

A run is ``(name, overrides)``: tools/relation_train_net.py (tools/relation_test_net.py for a
test-only run, which names its weights with ``MODEL.WEIGHT``) with
configs/synthetic_default/base.yaml and ``overrides``, in ``<output root>/<name>``. A name is
``<setting>_seed<k>``; a setting is ``<predictor>_<task>_<method>[_<variant>]``, where the
predictor is the file name of a predictor registered in ``RELATION_PREDICTORS`` (``motifs`` for
``MotifPredictor``, which is the config value).
"""

from __future__ import annotations

import glob
import itertools
import os
import re
from dataclasses import dataclass

import maskrcnn_benchmark.modeling.roi_heads.relation_head.predictors  # noqa: F401 (registers)
from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS

from . import ExperimentError

__all__ = ["SEEDS", "TASKS", "METHODS", "PLANS", "PREDICTORS", "RUN_NAME", "Run", "Variant",
           "Study", "ABLATION", "ENERGY_VARIANTS", "REFINED", "REFINED_SEED",
           "STRUCTURE_SETTINGS", "STRUCTURE_SEEDS", "EXTRA_SEEDS", "STRUCTURE_METHODS",
           "CONFIDENCE_PENALTY",
           "STRUCTURED_EBM", "STRUCTURE_SCREEN", "DECODED", "DECODE_WEIGHTS", "FILLED", "ADDITIONS",
           "DEMOTED", "FILLER_DEMOTION", "CENTERED", "FILLER_CENTERING", "FILLER_VARIANTS",
           "FILLED_PLAIN",
           "FILLER_RESCORING", "NO_PRETRAINING",
           "replaced", "pretrained_energy", "pretraining_runs",
           "registered_predictor", "setting_name", "run_name", "main_settings", "run_overrides",
           "plan", "build", "done", "TASK_FLAGS", "SGDET_PREDICTORS", "TDE", "TDE_OVERRIDES",
           "paper_settings", "GQA", "GQA_PREDICTORS", "GQA_TASKS", "GQA_DATA", "GQA_OVERRIDES"]

Run = tuple[str, list[str]]

SEEDS = (0, 1, 2)
# task -> (MODEL.ROI_RELATION_HEAD.USE_GT_BOX, MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL)
TASK_FLAGS = {"predcls": ("True", "True"), "sgcls": ("True", "False"),
              "sgdet": ("False", "False")}
# the tasks of the main grid (SGDet is the plan ``paper``'s)
TASKS = {task: TASK_FLAGS[task] for task in ("predcls", "sgcls")}
METHODS = ("ce", "ebm")
PLANS = ("main", "ablation", "extras", "structure", "paper", "gqa")
RUN_NAME = re.compile(r"^(?P<setting>.+)_seed(?P<seed>\d+)$")
# The predictors of the main grid (the paper's four), named by their file in
# maskrcnn_benchmark/modeling/roi_heads/relation_head/predictors/; the config value of each is
# the name it is registered under in RELATION_PREDICTORS.
PREDICTORS = ("motifs", "vctree", "imp", "transformer")


def registered_predictor(predictor: str) -> str:
    """The RELATION_PREDICTORS name of the predictor defined in predictors/<predictor>.py."""
    files = {name: RELATION_PREDICTORS.get(name).__module__.rsplit(".", 1)[-1]
             for name in RELATION_PREDICTORS.keys()}
    found = [name for name, file in files.items() if file == predictor]
    if len(found) != 1:
        known = sorted(set(files.values()))
        raise ExperimentError(f"predictor {predictor!r} names {len(found)} registered relation "
                              f"predictors {found}; run names need exactly one, known: {known}")
    return found[0]


def setting_name(predictor: str, task: str, method: str, variant: str = "") -> str:
    """The run name without its seed: ``motifs_predcls_ebm``, ``vctree_predcls_ebm_tau5``."""
    return "_".join(part for part in (predictor, task, method, variant) if part)


def run_name(setting: str, seed: int) -> str:
    """The run folder's name of a setting and seed."""
    return f"{setting}_seed{seed}"


def main_settings() -> list[str]:
    """The settings of the plan ``main``: every predictor x task x {CE, EBM}."""
    return [setting_name(p, t, m) for p in PREDICTORS for t in TASKS for m in METHODS]


def run_overrides(predictor: str, task: str, energy: bool, seed: int) -> list[str]:
    """The overrides of one main-grid run."""
    if task not in TASK_FLAGS:
        raise ExperimentError(f"unknown task {task!r}: {', '.join(TASK_FLAGS)}")
    box, label = TASK_FLAGS[task]
    return ["MODEL.ROI_RELATION_HEAD.PREDICTOR", registered_predictor(predictor),
            "MODEL.ROI_RELATION_HEAD.USE_GT_BOX", box,
            "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL", label,
            "MODEL.ENERGY_ON", str(energy), "SEED", str(seed)]


@dataclass(frozen=True)
class Variant:
    """One EBM row of a study: its table label, the setting's variant suffix ("" = the main
    grid's EBM run, not run again) and the overrides it adds."""

    label: str
    suffix: str = ""
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Study:
    """EBM variants of one predictor and task, compared with its CE run of the main grid."""

    title: str
    baseline: str  # label of the CE row
    predictor: str
    task: str
    variants: tuple[Variant, ...]

    def rows(self) -> list[tuple[str, str]]:
        """(label, setting) of the table: the CE baseline, then every variant."""
        ebm = [(v.label, setting_name(self.predictor, self.task, "ebm", v.suffix))
               for v in self.variants]
        return [(self.baseline, setting_name(self.predictor, self.task, "ce")), *ebm]

    def runs(self, seed: int) -> list[Run]:
        """The runs of the variants that are not main-grid runs, for one seed."""
        base = run_overrides(self.predictor, self.task, True, seed)
        return [(run_name(setting_name(self.predictor, self.task, "ebm", v.suffix), seed),
                 base + list(v.overrides)) for v in self.variants if v.suffix]


# The paper's Table 5 on VCTree PredCls: SGLD steps tau and the image graph.
ABLATION = Study("ablation (VCTree PredCls)", "VCTree PredCls CE", "vctree", "predcls", (
    Variant("EBM tau = 0", "tau0", ("SAMPLER.ITERS", "0")),
    Variant("EBM tau = 5", "tau5", ("SAMPLER.ITERS", "5")),
    Variant("EBM tau = 20"),
    Variant("EBM tau = 20, no image graph", "noimage", ("ENERGY_MODEL.USE_IMAGE_GRAPH", "False")),
))
# How the energy gradient reaches the relation head, lambda_e of Eq. 5, and the positive graph.
ENERGY_VARIANTS = Study(
    "energy-loss variants (Motifs PredCls)", "Motifs PredCls CE", "motifs", "predcls", (
        Variant("EBM reference (default)"),
        Variant("EBM detach", "detach", ("SAMPLER.GRAD_MODE", "detach")),
        Variant("EBM unroll", "unroll", ("SAMPLER.GRAD_MODE", "unroll")),
        Variant("EBM descend", "descend", ("SAMPLER.GRAD_MODE", "descend")),
        Variant("EBM lambda_e = 0.1", "lw0.1", ("ENERGY_MODEL.LOSS_WEIGHT", "0.1")),
        Variant("EBM lambda_e = 10", "lw10.0", ("ENERGY_MODEL.LOSS_WEIGHT", "10.0")),
        # noisier ground-truth states: a harder positive for the energy model
        Variant("EBM GT-state noise 0.1", "gtnoise0.1", ("ENERGY_MODEL.DATA_NOISE_VAR", "0.1")),
        # the positive graph on the predicted pairs: E+ and E- differ in the states only
        Variant("EBM matched positive graph", "matched",
                ("ENERGY_MODEL.POSITIVE_GRAPH", "matched")),
        Variant("EBM matched positive graph + descend", "matched_descend",
                ("ENERGY_MODEL.POSITIVE_GRAPH", "matched", "SAMPLER.GRAD_MODE", "descend")),
    ))
# Issue 14 (docs/RESULTS.md "Energy-based learning that learns structure"): the settings and
# seeds of the comparison CE / confidence-penalty CE / the paper's EBM / the structured EBM.
STRUCTURE_SETTINGS = (("motifs", "predcls"), ("vctree", "predcls"), ("motifs", "sgcls"),
                      ("vctree", "sgcls"))
STRUCTURE_SEEDS = (0, 1, 2)
# Two more seeds for every method of the comparison: on three, the differences to CE of the
# confidence penalty (mR@50 -0.07 ± 0.40), the paper's EBM (+0.97 ± 0.74) and the rescored
# fillers (+0.42 ± 0.49) were within two standard errors, and plain decoding's (+1.77 ± 0.41)
# within one of the issue's +2 target.
EXTRA_SEEDS = (3, 4)
# method label -> (method, variant suffix). The structured EBM (training with the structured
# energy) is a Motifs PredCls seed-0 screen (STRUCTURE_SCREEN): it lost 6.9 mR@50 there.
STRUCTURE_METHODS = {"CE": ("ce", ""), "CE + confidence penalty": ("ce", "confpen"),
                     "EBM (paper)": ("ebm", ""),
                     "CE + energy-guided decoding": ("ce", "decode"),
                     "CE + energy-guided decoding, fillers rescored": ("ce", "decode_fill"),
                     "CE + energy-guided decoding, fillers rescored by its own energy": (
                         "ce", "decode_fill_plain")}
# Pereyra et al. 2017's weight range; the baseline that makes predictions softer, no structure.
CONFIDENCE_PENALTY = ("MODEL.ROI_RELATION_HEAD.CONFIDENCE_PENALTY", "0.1")
# The structured energy-based learning of docs/ENERGY.md: same nodes and pairs in G+ and G-
# (background states on unrelated pairs), one-hot states on both sides (negatives drawn from
# the head with a straight-through gradient, moved by the discrete sampler), hard negatives,
# a margin loss, direction-aware messages, no image graph, and an energy model pretrained on
# the train split's GT graphs (tools/energy_pretrain_net.py, ``pretrained_energy``) that keeps
# learning from the relation model's samples at 1/100 of its learning rate; the relation model
# is trained to lower the energy of its samples (lambda_e = 0.05).
STRUCTURED_EBM = (
    "ENERGY_MODEL.POSITIVE_GRAPH", "matched",
    "ENERGY_MODEL.NEGATIVE_STATES", "sample",
    "ENERGY_MODEL.HARD_NEGATIVES.NUM", "4",
    "ENERGY_MODEL.LOSS", "Margin",
    "ENERGY_MODEL.L2COEFF", "0.01",
    "ENERGY_MODEL.USE_IMAGE_GRAPH", "False",
    "ENERGY_MODEL.EDGE_DIRECTIONS", "both",
    "SAMPLER.NAME", "GibbsWithGradients",
    "SAMPLER.ITERS", "5",
    "SAMPLER.GRAD_MODE", "descend",
    "ENERGY_MODEL.LOSS_WEIGHT", "0.05",
    "ENERGY_MODEL.FREEZE", "False",
    "SOLVER.ENERGY_LR_FACTOR", "0.01",
)
# Test-only energy-guided decoding (run suffix).
DECODED = "decode"
# Test-only decoding of the CE models with the pretrained energy: run suffix -> the weight of
# the energy against the head's log-probabilities (TEST.ENERGY_DECODE.WEIGHT).
DECODE_WEIGHTS = {DECODED: "1.0", f"{DECODED}_w3": "3.0"}
# Test-only decoding of the CE models that also lists and rescores the background pairs of the
# top 40 (the "fillers"), with an energy model pretrained on negatives that add relations too.
FILLED = f"{DECODED}_fill"
ADDITIONS = ("ENERGY_MODEL.HARD_NEGATIVES.ADDITIONS", "0.5")
FILLER_RESCORING = ("TEST.ENERGY_DECODE.FILLER_TOP_K", "40",
                    "TEST.ENERGY_DECODE.FILLER_RESCORE", "True")
# Seed-0 screens: the same, but the energy may only demote a filler, never promote one
# (FILLER_DEMOTE_ONLY), or the fillers' energy changes are centred on their image's mean
# (FILLER_CENTER), so the fillers are reordered among themselves.
DEMOTED = f"{DECODED}_demote"
FILLER_DEMOTION = (*FILLER_RESCORING, "TEST.ENERGY_DECODE.FILLER_DEMOTE_ONLY", "True")
CENTERED = f"{DECODED}_center"
FILLER_CENTERING = (*FILLER_RESCORING, "TEST.ENERGY_DECODE.FILLER_CENTER", "True")
# The fillers rescored by the decoder's own energy (pretrained on relabellings only): it tells a
# forbidden addition from the same predicate added where the rules allow it a little more often
# than the additions-pretrained one (57 ± 7% against 53 ± 5%, seeds 0-2) and kept plain
# decoding's mean recall on the validation split (docs/RESULTS.md).
FILLED_PLAIN = f"{FILLED}_plain"
# variant suffix -> (the filler keys of the test-only decoding runs, their seeds, whether their
# energy is the one pretrained with ADDITIONS)
FILLER_VARIANTS = {FILLED: (FILLER_RESCORING, STRUCTURE_SEEDS + EXTRA_SEEDS, True),
                   DEMOTED: (FILLER_DEMOTION, (0,), True),
                   CENTERED: (FILLER_CENTERING, (0,), True),
                   FILLED_PLAIN: (FILLER_RESCORING, STRUCTURE_SEEDS, False)}
# Variants without the pretrained energy model.
NO_PRETRAINING = "nopretrain"


def pretrained_energy(output_root: str, seed: int, additions: bool = False) -> str:
    """The pretrained energy model of a seed: ``<output root>/../energy_pretrain/seed<k>/``
    (``energy_pretrain_add`` when its negatives include additions, ``ADDITIONS``)."""
    parent = os.path.dirname(os.path.normpath(output_root))
    folder = "energy_pretrain_add" if additions else "energy_pretrain"
    return os.path.join(parent, folder, f"seed{seed}", "energy_model.pth")


def pretraining_runs(output_root: str) -> list[tuple[int, list[str]]]:
    """(seed, overrides of tools/energy_pretrain_net.py) of the structure plan's energy models."""
    return [(seed, ["MODEL.ENERGY_ON", "True", "SEED", str(seed), *STRUCTURED_EBM,
                    "OUTPUT_DIR", os.path.dirname(pretrained_energy(output_root, seed))])
            for seed in STRUCTURE_SEEDS + EXTRA_SEEDS]


def replaced(overrides: tuple[str, ...], **changes: str | None) -> tuple[str, ...]:
    """``overrides`` (KEY VALUE pairs) with the values of some keys changed (None drops the
    key); a key is named with "__" for ".", e.g. ``SAMPLER__ITERS="0"``."""
    pairs = dict(zip(overrides[::2], overrides[1::2]))
    for name, value in changes.items():
        key = name.replace("__", ".")
        if key not in pairs:
            raise ExperimentError(f"{key} is not among the overrides {list(pairs)}")
        if value is None:
            del pairs[key]
        else:
            pairs[key] = value
    return tuple(item for pair in pairs.items() for item in pair)


# What was tried on the way to STRUCTURED_EBM (Motifs PredCls, seed 0).
STRUCTURE_SCREEN = Study(
    "structured energy learning, what was tried (Motifs PredCls)", "Motifs PredCls CE",
    "motifs", "predcls", (
        Variant("EBM (paper)"),
        Variant("EBM structured", "struct", STRUCTURED_EBM),
        Variant("EBM structured, energy model frozen (lambda_e 0.1)", "struct_frozen",
                replaced(STRUCTURED_EBM, ENERGY_MODEL__LOSS_WEIGHT="0.1",
                         ENERGY_MODEL__FREEZE="True", SOLVER__ENERGY_LR_FACTOR=None)),
        Variant("EBM structured, energy model at the relation model's learning rate "
                "(lambda_e 0.1)", "struct_finetuned",
                replaced(STRUCTURED_EBM, ENERGY_MODEL__LOSS_WEIGHT="0.1",
                         SOLVER__ENERGY_LR_FACTOR=None)),
        Variant("EBM structured, energy learning rate x 0.1", "struct_elr0.1",
                replaced(STRUCTURED_EBM, SOLVER__ENERGY_LR_FACTOR="0.1")),
        Variant("EBM structured, energy model not pretrained (trained jointly)",
                f"struct_{NO_PRETRAINING}",
                replaced(STRUCTURED_EBM, SOLVER__ENERGY_LR_FACTOR=None)),
        Variant("EBM structured, reference gradient (raise E-)", "struct_reference",
                replaced(STRUCTURED_EBM, SAMPLER__GRAD_MODE="reference")),
    ))


def _with_pretrained(name: str, overrides: list[str], output_root: str, seed: int
                     ) -> list[str]:
    """A structured run's overrides plus its seed's pretrained energy model."""
    if "_struct" not in name or NO_PRETRAINING in name:
        return overrides
    return overrides + ["ENERGY_MODEL.WEIGHT", pretrained_energy(output_root, seed)]


def _ce_decoding_run(output_root: str, predictor: str, task: str, seed: int, suffix: str,
                     weight: str, fillers: tuple[str, ...] = (), additions: bool = False) -> Run:
    """Test-only: the seed's CE model decoded with the seed's pretrained energy model at
    TEST.ENERGY_DECODE.WEIGHT ``weight``, then the filler keys ``fillers`` (FILLER_VARIANTS);
    with ``additions`` the energy pretrained with ADDITIONS (in the overrides, for the
    runner's pretraining)."""
    model = os.path.join(output_root, run_name(setting_name(predictor, task, "ce"), seed),
                         "model_final.pth")
    return (run_name(setting_name(predictor, task, "ce", suffix), seed),
            run_overrides(predictor, task, True, seed) + list(STRUCTURED_EBM)
            + (list(ADDITIONS) if additions else [])
            + ["ENERGY_MODEL.WEIGHT", pretrained_energy(output_root, seed, additions),
               "TEST.ENERGY_DECODE.ON", "True", "TEST.ENERGY_DECODE.WEIGHT", weight]
            + list(fillers) + ["MODEL.WEIGHT", model])


def _structure_runs(output_root: str) -> list[Run]:
    """The structure plan: CE and the paper's EBM (main-grid runs, shared) and the
    confidence-penalty CE per setting and seed (seeds 3-4 included); test-only energy-guided
    decoding of every CE model (the seed's pretrained energy model; also with the fillers
    rescored by the additions-pretrained one); then the screening variants on seed 0."""
    runs = []
    for seed in STRUCTURE_SEEDS + EXTRA_SEEDS:
        for predictor, task in STRUCTURE_SETTINGS:
            for method, suffix in STRUCTURE_METHODS.values():
                if suffix.startswith(DECODED):  # test-only, below
                    continue
                extra = CONFIDENCE_PENALTY if suffix == "confpen" else ()
                runs.append((run_name(setting_name(predictor, task, method, suffix), seed),
                             run_overrides(predictor, task, method == "ebm", seed) + list(extra)))
    # CE scores decoded with the seed's pretrained energy (the other weights on seed 0 only)
    for seed, (predictor, task), (suffix, weight) in itertools.product(
            STRUCTURE_SEEDS + EXTRA_SEEDS, STRUCTURE_SETTINGS, DECODE_WEIGHTS.items()):
        if not seed or suffix == DECODED:
            runs.append(_ce_decoding_run(output_root, predictor, task, seed, suffix, weight))
    # ... and with the fillers listed and rescored (or only demoted) by the additions-pretrained
    # energy model
    for suffix, (fillers, seeds, additions) in FILLER_VARIANTS.items():
        for seed, (predictor, task) in itertools.product(seeds, STRUCTURE_SETTINGS):
            runs.append(_ce_decoding_run(output_root, predictor, task, seed, suffix, "1.0",
                                         fillers, additions))
    return runs + [(name, _with_pretrained(name, overrides, output_root, 0))
                   for name, overrides in STRUCTURE_SCREEN.runs(0)]


# The rest of the paper's Tables 1-3 (plan ``paper``): SGDet of the two predictors the paper's
# Table 3 and Table 4 use, and VCTree-TDE (SGB's CausalAnalysisPredictor with the VCTree
# context, sum fusion, total direct effect at test) in PredCls, SGCls and SGDet; CE and EBM,
# 3 seeds.
SGDET_PREDICTORS = ("motifs", "vctree")
TDE = "tde"
TDE_OVERRIDES = (
    "MODEL.ROI_RELATION_HEAD.CAUSAL.CONTEXT_LAYER", "vctree",
    "MODEL.ROI_RELATION_HEAD.CAUSAL.FUSION_TYPE", "sum",
    "MODEL.ROI_RELATION_HEAD.CAUSAL.EFFECT_ANALYSIS", "True",
    "MODEL.ROI_RELATION_HEAD.CAUSAL.EFFECT_TYPE", "TDE",
    "MODEL.ROI_RELATION_HEAD.CAUSAL.SPATIAL_FOR_VISION", "True",
    "MODEL.ROI_RELATION_HEAD.CAUSAL.SEPARATE_SPATIAL", "False",
)


def paper_settings() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(predictor, task, variant suffix, extra overrides) of the plan ``paper`` (each run as
    CE and EBM): SGDet of SGDET_PREDICTORS, then VCTree-TDE (``causal_<task>_<method>_tde``)."""
    sgdet = [(p, "sgdet", "", ()) for p in SGDET_PREDICTORS]
    tde = [("causal", task, TDE, TDE_OVERRIDES) for task in TASK_FLAGS]
    return sgdet + tde


def _paper_runs(output_root: str) -> list[Run]:
    """The plan ``paper``: every setting of ``paper_settings`` as CE and EBM on SEEDS, then
    (test-only) the SGDet CE models decoded with the seed's pretrained energy model, the
    structure plan's best energy variant, for Table 4's retrieval (scripts/retrieval_table4.sh)."""
    trained = [(run_name(setting_name(predictor, task, method, suffix), seed),
                run_overrides(predictor, task, method == "ebm", seed) + list(extra))
               for seed in SEEDS for predictor, task, suffix, extra in paper_settings()
               for method in METHODS]
    decoded = [_ce_decoding_run(output_root, predictor, "sgdet", seed, DECODED,
                                DECODE_WEIGHTS[DECODED])
               for seed in SEEDS for predictor in SGDET_PREDICTORS]
    return trained + decoded


# The paper's GQA rows (plan ``gqa``): Transformer, Motifs and IMP without the frequency bias
# (the paper drops it on GQA), PredCls and SGCls (the paper omits SGDet on GQA), CE and EBM,
# 3 seeds, on the GQA-format synthetic data set converted by tools/convert_gqa.py, with the
# small detector pretrained on it (configs/detector/synthetic_gqa_R18_FPN.yaml). Settings are
# ``<predictor>_<task>_<method>_gqa``.
GQA = "gqa"
GQA_PREDICTORS = ("transformer", "motifs", "imp")
GQA_TASKS = ("predcls", "sgcls")
GQA_DATA = "synthetic_gqa_small"
GQA_OVERRIDES = (
    "DATASETS.TRAIN", f'("{GQA_DATA}_train",)', "DATASETS.VAL", f'("{GQA_DATA}_val",)',
    "DATASETS.TEST", f'("{GQA_DATA}_test",)', "DATASETS.NUM_VAL_IM", "100",
    "MODEL.ROI_BOX_HEAD.NUM_CLASSES", "41", "MODEL.ROI_RELATION_HEAD.NUM_CLASSES", "26",
    "MODEL.ROI_RELATION_HEAD.PREDICT_USE_BIAS", "False",
    "MODEL.PRETRAINED_DETECTOR_CKPT", "./output/synthetic_gqa/detector/model_final.pth",
)


def _gqa_runs() -> list[Run]:
    return [(run_name(setting_name(predictor, task, method, GQA), seed),
             run_overrides(predictor, task, method == "ebm", seed) + list(GQA_OVERRIDES))
            for seed in SEEDS for predictor in GQA_PREDICTORS for task in GQA_TASKS
            for method in METHODS]


# Test-time refinement of the main grid's EBM models of one seed (test only).
REFINED = "refined"
REFINED_SEED = 0


def _refined_runs(output_root: str) -> list[Run]:
    runs = []
    for predictor, task in itertools.product(PREDICTORS, TASKS):
        weights = os.path.join(output_root, run_name(setting_name(predictor, task, "ebm"),
                                                     REFINED_SEED), "model_final.pth")
        runs.append((run_name(setting_name(predictor, task, "ebm", REFINED), REFINED_SEED),
                     run_overrides(predictor, task, True, REFINED_SEED)
                     + ["TEST.ENERGY_REFINE", "True", "MODEL.WEIGHT", weights]))
    return runs


def plan(name: str, output_root: str) -> list[Run]:
    """The runs of one plan, in execution order."""
    if name == "main":
        return [(run_name(setting_name(p, t, m), seed), run_overrides(p, t, m == "ebm", seed))
                for seed, p, t in itertools.product(SEEDS, PREDICTORS, TASKS) for m in METHODS]
    if name == "ablation":
        return [run for seed in SEEDS for run in ABLATION.runs(seed)]
    if name == "extras":
        return ([run for seed in SEEDS for run in ENERGY_VARIANTS.runs(seed)]
                + _refined_runs(output_root))
    if name == "structure":
        return _structure_runs(output_root)
    if name == "paper":
        return _paper_runs(output_root)
    if name == "gqa":
        return _gqa_runs()
    raise ExperimentError(f"unknown plan {name!r}: {', '.join(PLANS)}")


def build(names: list[str], output_root: str) -> list[Run]:
    """The runs of several plans, one after the other."""
    return [run for name in names for run in plan(name, output_root)]


def done(folder: str) -> bool:
    """Whether a run folder holds its test results."""
    return bool(glob.glob(os.path.join(folder, "inference", "*", "eval_results.json")))
