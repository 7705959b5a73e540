"""The metric rows of every finished run of an output root, by setting and seed.

A row flattens one eval_results.json (``maskrcnn_benchmark.evaluation.compare.metric_rows``)
and adds the scene-graph structure families where the evaluator wrote them: ``ctxR``,
``ctx-mR``, ``ng-ctxR``, ``ng-ctx-mR`` (context recall, fractions), ``viol`` (mean rule
violations per image of the top-K graph, a count) and ``viol-any`` (fraction of images with
any). Runs evaluated before these existed simply lack the keys.
"""

from __future__ import annotations

import glob
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence

from maskrcnn_benchmark.evaluation.compare import aggregate_runs, load_eval_results, metric_rows

from . import ExperimentError
from .plans import RUN_NAME, done

__all__ = ["STRUCTURE_FAMILIES", "COUNT_FAMILIES", "LOWER_IS_BETTER", "Settings", "family",
           "scale", "run_rows", "collect", "aggregate"]

STRUCTURE_FAMILIES = ("ctxR", "ctx-mR", "ng-ctxR", "ng-ctx-mR", "viol", "viol-any")
COUNT_FAMILIES = frozenset({"viol"})  # shown as they are; every other family in percent
LOWER_IS_BETTER = frozenset({"viol", "viol-any"})
KS = (20, 50, 100)

# setting (run name without the seed) -> seed -> metric row
Settings = dict[str, dict[int, dict[str, float | None]]]


def family(key: str) -> str:
    """The metric family of a row key: ``viol`` for ``viol@50``, ``fsR`` for ``fsR@20 (1-5)``."""
    return key.split("@", 1)[0]


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
            rows = run_rows(load_eval_results(folder))
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
