"""Side-by-side tables of evaluation results (quickstart CE vs EBM, docs/RESULTS.md).

Runs are read from their ``eval_results.json``; several seeds of one setting are aggregated to
mean and standard deviation. Values are printed in percent, as the SGG literature does, except
the violation counts ``viol@K`` (violations per image, printed as numbers).
"""

from __future__ import annotations

import glob
import json
import math
import os
import statistics
from collections.abc import Mapping, Sequence

from .outputs import JOINT_DECODE_SUFFIX

__all__ = ["load_eval_results", "metric_rows", "comparison_table", "aggregate_runs",
           "STRUCTURE_ROWS", "is_count_metric", "energy_ranking_rows"]

# What an energy model folder holds: the test ranking of ``--rank-only``, or the pretraining's.
RANKING_FILES = (("energy_ranking.json", "test"), ("energy_pretrain.json", "test"))

# Families of the synthetic benchmark's structure metrics, in table order (absent elsewhere).
STRUCTURE_ROWS = ("ctxR", "ctx-mR", "ng-ctxR", "ng-ctx-mR", "viol", "viol-any")


def is_count_metric(name: str) -> bool:
    """Whether a row holds a count (violations per image) rather than a fraction."""
    return name.startswith(("viol@", "viol["))


def load_eval_results(output_dir: str, dataset: str | None = None,
                      joint_decode: bool = False) -> dict:
    """The eval_results.json of a run folder (``OUTPUT_DIR``) or of its single dataset.

    Results re-decoded under the synthetic rules (``inference/<dataset>_joint_decode``) are
    read with ``joint_decode``; without it they are read only from a run folder that holds
    nothing else (a test-only joint-decoding run).
    """
    pattern = os.path.join(output_dir, "inference", dataset or "*", "eval_results.json")
    if dataset and joint_decode:
        pattern = os.path.join(output_dir, "inference", dataset + JOINT_DECODE_SUFFIX,
                               "eval_results.json")
    paths = sorted(glob.glob(pattern))
    joint = [p for p in paths if os.path.dirname(p).endswith(JOINT_DECODE_SUFFIX)]
    if not dataset:
        plain = [p for p in paths if p not in joint]
        paths = joint if joint_decode or not plain else plain
    if not paths:
        raise FileNotFoundError(
            f"No eval_results.json under {output_dir}/inference/"
            f"{'(*' + JOINT_DECODE_SUFFIX + ')' if joint_decode else ''}: run "
            "tools/relation_test_net.py (or training without --skip-test)"
            + (" with TEST.RELATION.JOINT_DECODE True" if joint_decode else ""))
    if len(paths) > 1:
        names = [os.path.basename(os.path.dirname(p)) for p in paths]
        raise ValueError(f"{output_dir} holds results of several datasets {names}; name one")
    with open(paths[0]) as f:
        return json.load(f)


def energy_ranking_rows(folder: str) -> dict[str, float | None]:
    """The test ranking of an energy model folder as rows ``<kind> k=<k>`` (fractions): its
    energy_ranking.json (tools/energy_pretrain_net.py --rank-only) or, without one, the test
    ranking in its energy_pretrain.json."""
    for name, key in RANKING_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path) as f:
                ranking = json.load(f).get(key)
            if ranking is None:
                raise ValueError(f"{path} has no {key!r} ranking (pretraining unfinished?)")
            return {f"{kind} k={k}": value for kind, result in ranking.items()
                    for k, value in result["accuracy"].items()}
    raise FileNotFoundError(f"No {' or '.join(n for n, _ in RANKING_FILES)} in {folder}: run "
                            "tools/energy_pretrain_net.py (--rank-only for a saved model)")


def metric_rows(results: Mapping, ks: Sequence[int] = (20, 50, 100)) -> dict[str, float | None]:
    """Flatten one run to ``{"R@20": .., "mR@50": .., "zsR@20": .., "fsR@20 (1-5)": ..,
    "R[on]@20": ..}``."""
    rows: dict[str, float | None] = {}
    for name in ("R", "mR", "ngR", "ng-mR"):
        for k in ks:
            rows[f"{name}@{k}"] = results[name][str(k)]
    for group_name, group in results.get("triplet_groups", {}).items():
        for k in ks:
            key = f"zsR@{k}" if group["kind"] == "zero-shot" else f"fsR@{k} ({group_name})"
            rows[key] = group["R"][str(k)]
    if results.get("A"):
        for k in ks:
            rows[f"A@{k}"] = results["A"][str(k)]
    for name in STRUCTURE_ROWS:  # synthetic benchmark only
        if name in results:
            for k in ks:
                rows[f"{name}@{k}"] = results[name][str(k)]
    # violations per image of each rule kind: ``viol[pair]@20``, ``viol[one_support]@50``
    by_kind = (results.get("structure") or {}).get("viol_by_kind") or {}
    for kind, per_k in by_kind.items():
        for k in ks:
            rows[f"viol[{kind}]@{k}"] = per_k[str(k)]
    # recall of each predicate class: ``R[on]@20`` (None where the test set has no instance)
    per_predicate = results.get("per_predicate") or {}
    for index, name in enumerate(per_predicate.get("names", [])):
        for k in ks:
            rows[f"R[{name}]@{k}"] = per_predicate["R"][str(k)][index]
    detection = results.get("detection") or {}
    if detection.get("mAP@0.5") is not None:
        rows["mAP@0.5"] = detection["mAP@0.5"]
    return rows


def aggregate_runs(runs: Sequence[Mapping[str, float | None]]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation of each metric over runs (seeds)."""
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r.get(key) is not None]
        if not values:
            continue
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        out[key] = (statistics.fmean(values), spread)
    return out


def _cell(value: float | tuple[float, float] | None, scale: float = 100.0) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, tuple):
        mean, spread = value
        return f"{scale * mean:.2f} ± {scale * spread:.2f}"
    return f"{scale * value:.2f}"


def comparison_table(columns: Mapping[str, Mapping[str, float | tuple[float, float] | None]],
                     metrics: Sequence[str] | None = None, delta: bool = True) -> str:
    """A Markdown table: one row per metric, one column per run, plus last - first (percent
    points; violations per image for ``viol@K``)."""
    names = list(columns)
    metrics = list(metrics or next(iter(columns.values())).keys())
    header = ["metric", *names] + (["Δ (last - first)"] if delta and len(names) > 1 else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for metric in metrics:
        values = [columns[n].get(metric) for n in names]
        scale = 1.0 if is_count_metric(metric) else 100.0
        row = [metric, *(_cell(v, scale) for v in values)]
        if delta and len(names) > 1:
            first, last = (_mean(values[0]), _mean(values[-1]))
            row.append("n/a" if first is None or last is None
                       else f"{scale * (last - first):+.2f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _mean(value: float | tuple[float, float] | None) -> float | None:
    if value is None:
        return None
    mean = value[0] if isinstance(value, tuple) else value
    return None if math.isnan(mean) else mean
