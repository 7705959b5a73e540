"""The Markdown tables of docs/RESULTS.md (mean ± sample std over seeds) and their splice.

``tables(collect(root))`` gives, in order: the paired CE-vs-EBM summary (per-seed differences,
pooled mean ± standard error and t), per task CE vs EBM for every predictor (and its few-shot
recall), the ablation, the energy-loss variants and the test-time refinement. Missing runs are
listed as "not run", not guessed. The structure columns (context recall, rule violations) are
added to a table when at least one of its runs has them; a row whose seeds do not all have a
metric shows "n/a" there.
"""

from __future__ import annotations

import math
import os
import statistics

from . import ExperimentError
from .plans import (
    ABLATION,
    ENERGY_VARIANTS,
    METHODS,
    PREDICTORS,
    REFINED,
    REFINED_SEED,
    TASKS,
    main_settings,
    setting_name,
)
from .results import (
    DIAGNOSTIC_KEYS,
    JOINT_PREFIX,
    LOWER_IS_BETTER,
    Settings,
    aggregate,
    family,
    scale,
)

__all__ = ["BEGIN", "END", "COLUMNS", "STRUCTURE_COLUMNS", "FEW_SHOT", "SUMMARY_METRICS",
           "SUMMARY_STRUCTURE", "seed_pairs", "JOINT_COLUMNS", "cell", "table", "paired", "summary",
           "diagnostics", "joint_decoding", "tables", "update"]

BEGIN = "<!-- results_tables:begin -->"
END = "<!-- results_tables:end -->"
COLUMNS = ["mR@20", "mR@50", "mR@100", "R@20", "R@50", "R@100", "zsR@20", "zsR@50"]
STRUCTURE_COLUMNS = ["ctx-mR@50", "ctxR@50", "viol@50", "viol-any@50"]
FEW_SHOT = ["fsR@20 (1-5)", "fsR@20 (6-10)", "fsR@20 (11-15)", "fsR@20 (16-20)",
            "fsR@20 (21-25)"]
SUMMARY_METRICS = ["mR@50", "R@50"]
SUMMARY_STRUCTURE = ["ctx-mR@50", "viol@50"]
JOINT_COLUMNS = ["mR@50", "R@50", "ctx-mR@50", "ctxR@50", "viol@20", "viol-any@20"]
UNITS = ("\nAll values are percent except viol@K, the mean number of rule violations per image "
         "in the top-K graph (viol-any@K: percent of images with at least one).")

Rows = list[tuple[str, str]]  # (label, setting)


def _runs(settings: Settings, setting: str, seeds: tuple[int, ...] | None) -> list[dict]:
    return [row for seed, row in sorted(settings.get(setting, {}).items())
            if seeds is None or seed in seeds]


def present(settings: Settings, names: list[str], keys: list[str],
            seeds: tuple[int, ...] | None = None) -> list[str]:
    """The keys that at least one run of these settings has (a value, not None)."""
    runs = [run for name in names for run in _runs(settings, name, seeds)]
    return [key for key in keys if any(run.get(key) is not None for run in runs)]


def cell(agg: dict, key: str, seeds: int) -> str:
    """Percent (counts as they are); mean ± sample std over seeds, the bare value for one."""
    if key not in agg:
        return "n/a"
    factor = scale(key)
    mean, std = agg[key]
    digits = 4 if key == "diag/factor" else 2  # near zero once the energy model saturates
    return (f"{factor * mean:.{digits}f} ± {factor * std:.{digits}f}" if seeds > 1
            else f"{factor * mean:.{digits}f}")


def table(settings: Settings, rows: Rows, columns: list[str],
          seeds: tuple[int, ...] | None = None) -> str:
    """One Markdown table: a row per (label, setting), mean ± std over its seeds (all, or only
    ``seeds``)."""
    lines = ["| setting | seeds | " + " | ".join(columns) + " |",
             "|---|---:|" + "---:|" * len(columns)]
    for label, setting in rows:
        runs = _runs(settings, setting, seeds)
        if not runs:
            lines.append(f"| {label} | 0 | " + " | ".join("not run" for _ in columns) + " |")
            continue
        agg = aggregate(runs)
        lines.append(f"| {label} | {len(runs)} | "
                     + " | ".join(cell(agg, c, len(runs)) for c in columns) + " |")
    return "\n".join(lines)


def recall_table(settings: Settings, rows: Rows, seeds: tuple[int, ...] | None = None) -> str:
    """``table`` with the recall columns and the structure columns that some run has."""
    structure = present(settings, [s for _, s in rows], STRUCTURE_COLUMNS, seeds)
    return table(settings, rows, COLUMNS + structure, seeds)


def paired(settings: Settings, title: str, rows: Rows) -> str:
    """A comparison on seed 0 (the seed every variant has), then over all seeds if a variant
    has more than one."""
    text = f"\n### {title}, seed 0\n\n" + recall_table(settings, rows, seeds=(0,))
    main = set(main_settings())
    if any(len(settings.get(setting, {})) > 1 for _, setting in rows if setting not in main):
        text += f"\n\n{title}, all seeds\n\n" + recall_table(settings, rows)
    return text


def seed_pairs(settings: Settings, setting: str, baseline: str, metric: str
               ) -> list[tuple[float, float]]:
    """(baseline, setting) values in display units on the seeds where both runs have it."""
    ours, base = settings.get(setting, {}), settings.get(baseline, {})
    factor = scale(metric)
    return [(factor * base[s][metric], factor * ours[s][metric])
            for s in sorted(set(ours) & set(base))
            if ours[s].get(metric) is not None and base[s].get(metric) is not None]


def _differences(ce: dict, ebm: dict, seeds: list[int], metric: str) -> list[float] | None:
    """Per-seed differences EBM - CE (display units), None unless every seed has the metric."""
    if any(runs[s].get(metric) is None for runs in (ce, ebm) for s in seeds):
        return None
    factor = scale(metric)
    return [factor * (ebm[s][metric] - ce[s][metric]) for s in seeds]


def summary(settings: Settings) -> str:
    """CE vs EBM per predictor and task on the seeds both have: the two means and the mean ±
    sample std of the per-seed difference EBM - CE; then in how many settings EBM is ahead
    (above; below for violations) and the difference pooled over all seed pairs (mean ±
    standard error, t statistic)."""
    metrics = SUMMARY_METRICS + present(settings, main_settings(), SUMMARY_STRUCTURE)
    header = ["setting", "seeds"]
    for metric in metrics:
        header += [f"{metric} CE", f"{metric} EBM", f"{metric} EBM - CE"]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|" + "---:|" * (len(header) - 2)]
    ahead = {metric: [0, 0] for metric in metrics}  # [EBM ahead, settings]
    pairs: dict[str, list[float]] = {metric: [] for metric in metrics}
    for task in TASKS:
        for predictor in PREDICTORS:
            ce = settings.get(setting_name(predictor, task, "ce"), {})
            ebm = settings.get(setting_name(predictor, task, "ebm"), {})
            seeds = sorted(set(ce) & set(ebm))
            label = f"{predictor} {task}"
            if not seeds:
                lines.append(f"| {label} | 0 | " + " | ".join(
                    "not run" for _ in header[2:]) + " |")
                continue
            cells = [label, str(len(seeds))]
            for metric in metrics:
                diff = _differences(ce, ebm, seeds, metric)
                if diff is None:
                    cells += ["n/a"] * 3
                    continue
                factor = scale(metric)
                mean_diff = round(statistics.fmean(diff), 2) + 0.0  # no "-0.00"
                spread = f" ± {statistics.stdev(diff):.2f}" if len(seeds) > 1 else ""
                cells += [f"{statistics.fmean(factor * ce[s][metric] for s in seeds):.2f}",
                          f"{statistics.fmean(factor * ebm[s][metric] for s in seeds):.2f}",
                          f"{mean_diff:+.2f}{spread}"]
                ahead[metric][0] += _sign(metric) * mean_diff > 0
                ahead[metric][1] += 1
                pairs[metric] += diff
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for word, sign in (("above", 1), ("below", -1)):
        group = [f"{m}: {n} of {total}" for m, (n, total) in ahead.items() if _sign(m) == sign]
        if group:
            lines.append(f"- Settings where the EBM mean is {word} the CE mean: "
                         + "; ".join(group) + ".")
    for metric, diff in pairs.items():
        if len(diff) > 1:
            se = statistics.stdev(diff) / math.sqrt(len(diff))
            t = f", t = {statistics.fmean(diff) / se:.2f} ({len(diff) - 1} dof)" if se else ""
            better = sum(_sign(metric) * d > 0 for d in diff)
            lines.append(f"- Pooled over all {len(diff)} seed pairs, {metric} EBM - CE: "
                         f"{statistics.fmean(diff):+.2f} ± {se:.2f} (standard error){t}; "
                         f"EBM {'ahead' if _sign(metric) > 0 else 'lower'} in {better} "
                         f"of {len(diff)}.")
    return "\n".join(lines)


def _sign(metric: str) -> int:
    return -1 if family(metric) in LOWER_IS_BETTER else 1


def _refinement(settings: Settings) -> str:
    rows = [(f"{p} {t} EBM{' + refinement' if refined else ''}",
             setting_name(p, t, "ebm", REFINED if refined else ""))
            for p in PREDICTORS for t in TASKS for refined in (False, True)]
    return (f"\n### test-time refinement, seed {REFINED_SEED}\n\n"
            + recall_table(settings, rows, seeds=(REFINED_SEED,)))


def tables(settings: Settings) -> str:
    """All RESULTS.md tables as one Markdown text."""
    out = [UNITS] if present(settings, list(settings), ["viol@50", "viol-any@50"]) else []
    out.append("\n### CE vs EBM (paired by seed)\n\n" + summary(settings))
    for task in TASKS:
        rows = [(f"{p} {m.upper()}", setting_name(p, task, m))
                for p in PREDICTORS for m in METHODS]
        out.append(f"\n### {task}\n\n" + recall_table(settings, rows))
        out.append(f"\n{task} few-shot recall@20 by train-frequency bin\n\n"
                   + table(settings, rows, FEW_SHOT))
    for study in (ABLATION, ENERGY_VARIANTS):
        out.append(paired(settings, study.title, study.rows()))
    out.append(_refinement(settings))
    out.append(joint_decoding(settings))
    out.append(diagnostics(settings))
    return "\n".join(part for part in out if part)


def _main_rows(methods: tuple[str, ...]) -> Rows:
    return [(f"{p} {t} {m.upper()}", setting_name(p, t, m))
            for p in PREDICTORS for t in TASKS for m in methods]


def _with(settings: Settings, rows: Rows, key: str) -> Rows:
    """The rows some run of which has ``key``."""
    return [(label, setting) for label, setting in rows
            if any(run.get(key) is not None for run in _runs(settings, setting, None))]


def joint_decoding(settings: Settings) -> str:
    """Each run's scores evaluated as they are and re-decoded under the scene rules
    (TEST.RELATION.JOINT_DECODE): the structure the scores leave unused. Empty without runs."""
    rows = _with(settings, _main_rows(METHODS), JOINT_PREFIX + "mR@50")
    if not rows:
        return ""
    columns = [name for c in JOINT_COLUMNS for name in (c, JOINT_PREFIX + c)]
    return ("\n### joint (rule-aware) decoding of the same scores\n\n"
            + table(settings, rows, columns))


def diagnostics(settings: Settings) -> str:
    """The energy diagnostics of the EBM runs (tools/energy_diagnostics.py): energies, the
    gradient factor, the shortcut probe's accuracy and the ranking test. Empty without them."""
    rows = _with(settings, _main_rows(("ebm",)), "diag/probe")
    if not rows:
        return ""
    return ("\n### energy diagnostics of the EBM models\n\n"
            "E+ / E- and the factor of dE-/dphi on validation images; probe: held-out accuracy "
            "separating G+ from G- by per-graph statistics; ranking: percent of changed GT "
            "graphs (k predicates) with E(GT) < E(changed), random or rule-breaking changes "
            "(50 = blind); Spearman of E with the number of wrong edges (rule-breaking).\n\n"
            + table(settings, rows, list(DIAGNOSTIC_KEYS)))


def update(path: str, text: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the block between ``begin`` and ``end`` of a Markdown file with ``text``
    (atomically)."""
    try:
        with open(path) as handle:
            document = handle.read()
    except OSError as error:
        raise ExperimentError(f"cannot read {path} ({error.strerror}): pass the Markdown file "
                              f"that holds the {begin} block") from error
    if document.count(begin) != 1 or document.count(end) != 1:
        raise ExperimentError(f"{path} needs exactly one {begin} and one {end} line")
    head, rest = document.split(begin)
    _, tail = rest.split(end)
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(f"{head}{begin}\n{text.strip()}\n\n{end}{tail}")
    os.replace(tmp, path)
