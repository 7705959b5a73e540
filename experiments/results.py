"""The metric rows of every finished run of an output root, by setting and seed.

A row flattens one eval_results.json (``maskrcnn_benchmark.evaluation.compare.metric_rows``)
and adds the scene-graph structure families where the evaluator wrote them: ``ctxR``,
``ctx-mR``, ``ng-ctxR``, ``ng-ctx-mR`` (context recall, fractions), ``viol`` (mean rule
violations per image of the top-K graph, a count) and ``viol-any`` (fraction of images with
any). Runs evaluated before these existed simply lack the keys.
"""

from __future__ import annotations

import glob
import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence

import yaml

from maskrcnn_benchmark.evaluation.compare import aggregate_runs, load_eval_results, metric_rows
from maskrcnn_benchmark.evaluation.outputs import JOINT_DECODE_SUFFIX

from . import ExperimentError
from .plans import RUN_NAME, done

__all__ = ["STRUCTURE_FAMILIES", "COUNT_FAMILIES", "LOWER_IS_BETTER", "DIAGNOSTICS_FILE",
           "DIAGNOSTIC_KEYS", "JOINT_PREFIX", "Settings", "family", "scale", "run_rows",
           "diagnostic_rows", "run_eval_results", "collect", "aggregate"]

STRUCTURE_FAMILIES = ("ctxR", "ctx-mR", "ng-ctxR", "ng-ctx-mR", "viol", "viol-any")
# shown as they are (counts, energies); every other family in percent
COUNT_FAMILIES = frozenset({"viol", "diag/E+", "diag/E-", "diag/factor", "diag/spearman rule"})
LOWER_IS_BETTER = frozenset({"viol", "viol-any"})
KS = (20, 50, 100)

DIAGNOSTICS_FILE = "energy_diagnostics.json"  # tools/energy_diagnostics.py's default output
# Row keys of an EBM run's diagnostics (docs/ENERGY.md "Diagnostics").
DIAGNOSTIC_KEYS = ("diag/E+", "diag/E-", "diag/factor", "diag/probe", "diag/random k=1",
                   "diag/rule k=1", "diag/rule k=2", "diag/rule k=3", "diag/spearman rule")
JOINT_PREFIX = "joint "  # rows of the TEST.RELATION.JOINT_DECODE evaluation of the same run

# setting (run name without the seed) -> seed -> metric row
Settings = dict[str, dict[int, dict[str, float | None]]]


def family(key: str) -> str:
    """The metric family of a row key: ``viol`` for ``viol@50`` and ``viol[pair]@50``, ``fsR``
    for ``fsR@20 (1-5)``."""
    return key.removeprefix(JOINT_PREFIX).split("@", 1)[0].split("[", 1)[0]


def scale(key: str) -> float:
    """Display factor of a row key: 100 for fractions (percent), 1 for counts."""
    return 1.0 if family(key) in COUNT_FAMILIES else 100.0


def run_rows(results: Mapping, ks: Sequence[int] = KS) -> dict[str, float | None]:
    """One run's row: ``metric_rows`` plus ``<family>@K`` of the structure families present."""
    rows = metric_rows(results, ks)
    for name in STRUCTURE_FAMILIES:
        if name in results:
            for k in ks:
                rows[f"{name}@{k}"] = results[name][str(k)]
    return rows


def diagnostic_rows(report: Mapping) -> dict[str, float | None]:
    """The ``DIAGNOSTIC_KEYS`` of one energy_diagnostics.json report (rule-breaking rows None
    on data without the synthetic rules)."""
    kinds = report["ranking"]["kinds"]
    rule = kinds.get("rule")
    rows: dict[str, float | None] = {
        "diag/E+": report["energies"]["positive_mean"],
        "diag/E-": report["energies"]["negative_mean"],
        "diag/factor": report["energies"]["grad_factor"],
        "diag/probe": report["probe"]["accuracy"],
        "diag/random k=1": kinds["random"]["accuracy"]["1"],
        "diag/spearman rule": rule["spearman"] if rule else None,
    }
    for k in ("1", "2", "3"):
        rows[f"diag/rule k={k}"] = rule["accuracy"][k] if rule else None
    return rows


def _extra_rows(folder: str) -> dict[str, float | None]:
    """Diagnostics and joint-decoding rows of a run folder, where they were computed."""
    rows: dict[str, float | None] = {}
    path = os.path.join(folder, DIAGNOSTICS_FILE)
    if os.path.isfile(path):
        with open(path) as handle:
            rows.update(diagnostic_rows(json.load(handle)))
    try:
        joint = load_eval_results(folder, joint_decode=True)
    except FileNotFoundError:
        return rows
    rows.update({JOINT_PREFIX + key: value for key, value in run_rows(joint).items()})
    return rows


def _own_test_dataset(folder: str) -> str | None:
    """The first DATASETS.TEST of the run's config.yaml (None without one)."""
    path = os.path.join(folder, "config.yaml")
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    names = (config.get("DATASETS") or {}).get("TEST") or []
    return str(names[0]) if names else None


def run_eval_results(folder: str) -> dict:
    """The eval_results.json of a run's own test set: the only one, or the config's first
    DATASETS.TEST when the run was also tested on other data sets (a retrieval gallery's
    extension, its train split for SGB's retrieval protocol)."""
    plain = [path for path in glob.glob(os.path.join(folder, "inference", "*",
                                                     "eval_results.json"))
             if not os.path.dirname(path).endswith(JOINT_DECODE_SUFFIX)]
    return load_eval_results(folder, _own_test_dataset(folder) if len(plain) > 1 else None)


def collect(root: str) -> Settings:
    """Metric rows of every finished run (``<setting>_seed<k>`` folders) under ``root``."""
    if not os.path.isdir(root):
        raise ExperimentError(f"no folder {root}: pass the --output-root the runs were made in")
    settings: Settings = defaultdict(dict)
    for folder in sorted(glob.glob(os.path.join(root, "*_seed*"))):
        match = RUN_NAME.match(os.path.basename(folder))
        if not (match and done(folder)):
            continue
        try:
            rows = run_rows(run_eval_results(folder))
            rows.update(_extra_rows(folder))
        except (ValueError, KeyError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise ExperimentError(
                f"{folder}: unreadable eval_results.json ({type(error).__name__}: {error}); "
                f"evaluate the run again (tools/relation_test_net.py) or move it out of {root}"
            ) from error
        settings[match["setting"]][int(match["seed"])] = rows
    return dict(settings)


def aggregate(runs: Sequence[Mapping[str, float | None]]) -> dict[str, tuple[float, float]]:
    """Mean and sample std over runs of the keys every run has; a key that some runs lack
    (evaluated before the metric existed) is left out rather than averaged over fewer seeds."""
    common = set.intersection(*(set(run) for run in runs))
    return {key: value for key, value in aggregate_runs(runs).items() if key in common}
