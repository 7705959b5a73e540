"""Markdown tables of the docs/RESULTS.md experiments (mean ± std over seeds, percent).

    python tools/results_tables.py --output-root output/results > /tmp/tables.md
    python tools/results_tables.py --update docs/RESULTS.md   # rewrite its marked block

Reads the runs of tools/run_experiments.py (folders <predictor>_<task>_<method>_seed<k>) and
prints a paired CE-vs-EBM summary (per-seed differences), then, per task, CE vs EBM for every
predictor, then the ablations and the extra variants that exist. Missing runs are listed, not
guessed.
"""

import argparse
import glob
import math
import os
import re
import statistics
from collections import defaultdict

from maskrcnn_benchmark.evaluation.compare import aggregate_runs, load_eval_results, metric_rows

BEGIN = "<!-- results_tables:begin -->"
END = "<!-- results_tables:end -->"
MAIN_GRID = re.compile(r"^[a-z]+_(predcls|sgcls)_(ce|ebm)$")  # the baselines of the plan "main"
RUN = re.compile(r"^(?P<setting>.+)_seed(?P<seed>\d+)$")
COLUMNS = ["mR@20", "mR@50", "mR@100", "R@20", "R@50", "R@100", "zsR@20", "zsR@50"]
FEW_SHOT = ["fsR@20 (1-5)", "fsR@20 (6-10)", "fsR@20 (11-15)", "fsR@20 (16-20)",
            "fsR@20 (21-25)"]


def collect(root: str) -> dict[str, dict[int, dict]]:
    """Metric rows of every finished run: setting (the name without the seed) -> seed -> rows."""
    settings: dict[str, dict[int, dict]] = defaultdict(dict)
    for folder in sorted(glob.glob(os.path.join(root, "*_seed*"))):
        match = RUN.match(os.path.basename(folder))
        if match and glob.glob(os.path.join(folder, "inference", "*", "eval_results.json")):
            settings[match["setting"]][int(match["seed"])] = metric_rows(
                load_eval_results(folder))
    return settings


def cell(agg: dict, key: str, seeds: int) -> str:
    """Percent; mean ± sample std over seeds, the bare value for a single seed."""
    if key not in agg:
        return "n/a"
    mean, std = agg[key]
    return f"{100 * mean:.2f} ± {100 * std:.2f}" if seeds > 1 else f"{100 * mean:.2f}"


def table(settings: dict[str, dict[int, dict]], rows: list[tuple[str, str]],
          columns: list[str], seeds: tuple[int, ...] | None = None) -> str:
    """One Markdown table: a row per (label, setting), mean ± std over its seeds (all, or only
    ``seeds``)."""
    lines = ["| setting | seeds | " + " | ".join(columns) + " |",
             "|---|---:|" + "---:|" * len(columns)]
    for label, setting in rows:
        runs = [rows_ for seed, rows_ in sorted(settings.get(setting, {}).items())
                if seeds is None or seed in seeds]
        if not runs:
            lines.append(f"| {label} | 0 | " + " | ".join("not run" for _ in columns) + " |")
            continue
        agg = aggregate_runs(runs)
        lines.append(f"| {label} | {len(runs)} | "
                     + " | ".join(cell(agg, c, len(runs)) for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-root", default="output/results")
    parser.add_argument("--update", metavar="MARKDOWN",
                        help=f"replace the text between {BEGIN!r} and {END!r} in this file "
                             "instead of printing")
    args = parser.parse_args()
    text = tables(collect(args.output_root))
    if args.update:
        update(args.update, text)
    else:
        print(text)


def update(path: str, text: str) -> None:
    """Replace the marked block of a Markdown file with ``text`` (atomically)."""
    with open(path) as handle:
        document = handle.read()
    if document.count(BEGIN) != 1 or document.count(END) != 1:
        raise SystemExit(f"{path} needs exactly one {BEGIN} and one {END} line")
    head, rest = document.split(BEGIN)
    _, tail = rest.split(END)
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(f"{head}{BEGIN}\n{text.strip()}\n\n{END}{tail}")
    os.replace(tmp, path)


def paired(settings: dict[str, dict[int, dict]], title: str, rows: list[tuple[str, str]]) -> str:
    """A comparison on seed 0 (the seed every variant has), then over all seeds if a variant
    has more than one."""
    text = f"\n### {title}, seed 0\n\n" + table(settings, rows, COLUMNS, seeds=(0,))
    if any(len(settings.get(setting, {})) > 1 for _, setting in rows
           if not MAIN_GRID.match(setting)):
        text += f"\n\n{title}, all seeds\n\n" + table(settings, rows, COLUMNS)
    return text


PREDICTORS = ["motifs", "vctree", "imp", "transformer"]
SUMMARY_METRICS = ["mR@50", "R@50"]


def summary(settings: dict[str, dict[int, dict]]) -> str:
    """CE vs EBM per predictor and task on the seeds both have: the two means and the mean ±
    sample std of the per-seed difference EBM - CE; then in how many settings EBM is ahead and
    the difference pooled over all seed pairs (mean ± standard error, t statistic)."""
    header = ["setting", "seeds"]
    for metric in SUMMARY_METRICS:
        header += [f"{metric} CE", f"{metric} EBM", f"{metric} EBM - CE"]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|" + "---:|" * (len(header) - 2)]
    ahead = {metric: [0, 0] for metric in SUMMARY_METRICS}  # [EBM ahead, settings]
    pairs: dict[str, list[float]] = {metric: [] for metric in SUMMARY_METRICS}
    for task in ("predcls", "sgcls"):
        for predictor in PREDICTORS:
            ce = settings.get(f"{predictor}_{task}_ce", {})
            ebm = settings.get(f"{predictor}_{task}_ebm", {})
            seeds = sorted(set(ce) & set(ebm))
            label = f"{predictor} {task}"
            if not seeds:
                lines.append(f"| {label} | 0 | " + " | ".join(
                    "not run" for _ in header[2:]) + " |")
                continue
            cells = [label, str(len(seeds))]
            for metric in SUMMARY_METRICS:
                a = [100 * ce[s][metric] for s in seeds]
                b = [100 * ebm[s][metric] for s in seeds]
                diff = [y - x for x, y in zip(a, b)]
                mean_diff = round(statistics.fmean(diff), 2) + 0.0  # no "-0.00"
                spread = f" ± {statistics.stdev(diff):.2f}" if len(seeds) > 1 else ""
                cells += [f"{statistics.fmean(a):.2f}", f"{statistics.fmean(b):.2f}",
                          f"{mean_diff:+.2f}{spread}"]
                ahead[metric][0] += mean_diff > 0
                ahead[metric][1] += 1
                pairs[metric] += diff
            lines.append("| " + " | ".join(cells) + " |")
    counts = "; ".join(f"{metric}: {n} of {total}" for metric, (n, total) in ahead.items())
    lines.append(f"\n- Settings where the EBM mean is above the CE mean: {counts}.")
    for metric, diff in pairs.items():
        if len(diff) > 1:
            se = statistics.stdev(diff) / math.sqrt(len(diff))
            t = f", t = {statistics.fmean(diff) / se:.2f} ({len(diff) - 1} dof)" if se else ""
            lines.append(f"- Pooled over all {len(diff)} seed pairs, {metric} EBM - CE: "
                         f"{statistics.fmean(diff):+.2f} ± {se:.2f} (standard error){t}; "
                         f"EBM ahead in {sum(d > 0 for d in diff)} of {len(diff)}.")
    return "\n".join(lines)


def tables(settings: dict[str, dict[int, dict]]) -> str:
    """All RESULTS.md tables as one Markdown text."""
    out = ["\n### CE vs EBM (paired by seed)\n\n" + summary(settings)]
    for task in ("predcls", "sgcls"):
        rows = [(f"{p} {m.upper()}", f"{p}_{task}_{m}") for p in PREDICTORS for m in ("ce", "ebm")]
        out.append(f"\n### {task}\n\n" + table(settings, rows, COLUMNS))
        out.append(f"\n{task} few-shot recall@20 by train-frequency bin\n\n"
                   + table(settings, rows, FEW_SHOT))
    ablation = [("VCTree PredCls CE", "vctree_predcls_ce"),
                ("EBM tau = 0", "vctree_predcls_ebm_tau0"),
                ("EBM tau = 5", "vctree_predcls_ebm_tau5"),
                ("EBM tau = 20", "vctree_predcls_ebm"),
                ("EBM tau = 20, no image graph", "vctree_predcls_ebm_noimage")]
    out.append(paired(settings, "ablation (VCTree PredCls)", ablation))
    variants = [("Motifs PredCls CE", "motifs_predcls_ce"),
                ("EBM reference (default)", "motifs_predcls_ebm"),
                ("EBM detach", "motifs_predcls_ebm_detach"),
                ("EBM unroll", "motifs_predcls_ebm_unroll"),
                ("EBM descend", "motifs_predcls_ebm_descend"),
                ("EBM lambda_e = 0.1", "motifs_predcls_ebm_lw0.1"),
                ("EBM lambda_e = 10", "motifs_predcls_ebm_lw10.0"),
                ("EBM GT-state noise 0.1", "motifs_predcls_ebm_gtnoise0.1"),
                ("EBM matched positive graph", "motifs_predcls_ebm_matched"),
                ("EBM matched positive graph + descend", "motifs_predcls_ebm_matched_descend")]
    out.append(paired(settings, "energy-loss variants (Motifs PredCls)", variants))
    refined = [(f"{p} {t} EBM{' + refinement' if r else ''}",
                f"{p}_{t}_ebm{'_refined' if r else ''}")
               for p in PREDICTORS for t in ("predcls", "sgcls") for r in (False, True)]
    out.append("\n### test-time refinement, seed 0\n\n"
               + table(settings, refined, COLUMNS, seeds=(0,)))
    return "\n".join(out)


if __name__ == "__main__":
    main()
