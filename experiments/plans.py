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
           "registered_predictor", "setting_name", "run_name", "main_settings", "run_overrides",
           "plan", "build", "done"]

Run = tuple[str, list[str]]

SEEDS = (0, 1, 2)
# task -> (MODEL.ROI_RELATION_HEAD.USE_GT_BOX, MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL)
TASKS = {"predcls": ("True", "True"), "sgcls": ("True", "False")}
METHODS = ("ce", "ebm")
PLANS = ("main", "ablation", "extras")
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
    box, label = TASKS[task]
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
    raise ExperimentError(f"unknown plan {name!r}: {', '.join(PLANS)}")


def build(names: list[str], output_root: str) -> list[Run]:
    """The runs of several plans, one after the other."""
    return [run for name in names for run in plan(name, output_root)]


def done(folder: str) -> bool:
    """Whether a run folder holds its test results."""
    return bool(glob.glob(os.path.join(folder, "inference", "*", "eval_results.json")))
