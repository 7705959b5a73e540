"""docs/RESULTS.md laid out as the paper's Tables 1-3 (plans main, paper and structure).

``paper_tables(collect(root))``: Table 1, mean recall mR@20/50/100 of every model (IMP, Motifs,
Transformer, VCTree, VCTree-TDE; the GQA-format rows of plan gqa, Transformer, Motifs and IMP in
PredCls and SGCls, "-" under SGDet as in the paper) with CE and EBM per task, the per-seed
difference EBM - CE under each model, and the energy-guided decoding of CE scores (plan
structure) where it ran; Table 2, zero-shot recall zsR@20/50 in the same layout; Table 3,
few-shot recall fsR@20 by train-frequency bin of VCTree SGDet. Cells are mean ± sample std over
the seeds that finished (their count in the ``seeds`` column, PredCls/SGCls/SGDet); a cell of a
setting without finished runs reads "not run".
"""

from __future__ import annotations

import statistics

from .plans import DECODED, GQA, GQA_TASKS, METHODS, TASK_FLAGS, TDE, setting_name
from .results import Settings, aggregate
from .tables import FEW_SHOT, cell, seed_pairs, table

__all__ = ["PAPER_BEGIN", "PAPER_END", "MODELS", "TABLE1_METRICS", "TABLE2_METRICS",
           "model_table", "paper_tables"]

PAPER_BEGIN = "<!-- paper_tables:begin -->"
PAPER_END = "<!-- paper_tables:end -->"
# label -> (predictor file name, variant suffix) in the paper's row order
MODELS = {"IMP": ("imp", ""), "Motifs": ("motifs", ""), "Transformer": ("transformer", ""),
          "VCTree": ("vctree", ""), "VCTree-TDE": ("causal", TDE),
          "GQA-format Transformer": ("transformer", GQA), "GQA-format Motifs": ("motifs", GQA),
          "GQA-format IMP": ("imp", GQA)}
# variant suffix -> the tasks its rows have (the paper omits SGDet on GQA: "-" in those cells)
SUFFIX_TASKS = {GQA: GQA_TASKS}
METHOD_LABELS = {"ce": "CE", "ebm": "EBM"}
TABLE1_METRICS = ["mR@20", "mR@50", "mR@100"]
TABLE2_METRICS = ["zsR@20", "zsR@50"]


def _cell(settings: Settings, setting: str, metric: str, omitted: bool = False) -> str:
    if omitted:
        return "-"
    runs = [row for _, row in sorted(settings.get(setting, {}).items())]
    return cell(aggregate(runs), metric, len(runs)) if runs else "not run"


def _difference(settings: Settings, ours: str, base: str, metric: str) -> str:
    """Mean ± sample std of the per-seed difference ours - base, its seed count in brackets."""
    diff = [mine - theirs for theirs, mine in seed_pairs(settings, ours, base, metric)]
    if not diff:
        return ""
    mean = round(statistics.fmean(diff), 2) + 0.0  # no "-0.00"
    spread = f" ± {statistics.stdev(diff):.2f}" if len(diff) > 1 else ""
    return f"{mean:+.2f}{spread} ({len(diff)})"


def _has_task(suffix: str, task: str) -> bool:
    return task in SUFFIX_TASKS.get(suffix, TASK_FLAGS)


def _seeds(settings: Settings, predictor: str, method: str, suffix: str) -> str:
    return "/".join(str(len(settings.get(setting_name(predictor, task, method, suffix), {})))
                    if _has_task(suffix, task) else "-" for task in TASK_FLAGS)


def model_table(settings: Settings, metrics: list[str], decoded: bool = True) -> str:
    """Rows model x method, columns task x metric; under each model the paired EBM - CE (its
    seed count in brackets) and, with ``decoded``, CE + energy-guided decoding where it ran."""
    tasks = list(TASK_FLAGS)
    header = ["model", "method", "seeds P/S/D"] + [
        f"{task} {metric}" for task in tasks for metric in metrics]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---:|" + "---:|" * (len(header) - 3)]
    for label, (predictor, suffix) in MODELS.items():
        for method in METHODS:
            cells = [_cell(settings, setting_name(predictor, task, method, suffix), metric,
                           omitted=not _has_task(suffix, task))
                     for task in tasks for metric in metrics]
            lines.append(f"| {label} | {METHOD_LABELS[method]} | "
                         f"{_seeds(settings, predictor, method, suffix)} | "
                         + " | ".join(cells) + " |")
        diffs = [_difference(settings, setting_name(predictor, task, "ebm", suffix),
                             setting_name(predictor, task, "ce", suffix), metric)
                 for task in tasks for metric in metrics]
        if any(diffs):
            lines.append(f"| {label} | EBM - CE (seeds) | | " + " | ".join(diffs) + " |")
        decode = [setting_name(predictor, task, "ce", DECODED) for task in tasks]
        if decoded and not suffix and any(settings.get(s) for s in decode):
            cells = [_cell(settings, s, metric) if settings.get(s) else ""
                     for s in decode for metric in metrics]
            lines.append(f"| {label} | CE + energy-guided decoding | "
                         f"{_seeds(settings, predictor, 'ce', DECODED)} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_tables(settings: Settings) -> str:
    """Tables 1-3 of the paper as one Markdown text."""
    fsr_rows = [(f"VCTree SGDet {METHOD_LABELS[m]}", setting_name("vctree", "sgdet", m))
                for m in METHODS]
    return "\n".join([
        "\n### Table 1: mean recall (mR@K), PredCls / SGCls / SGDet\n",
        model_table(settings, TABLE1_METRICS),
        "\n### Table 2: zero-shot recall (zsR@K)\n",
        model_table(settings, TABLE2_METRICS, decoded=False),
        "\n### Table 3: few-shot recall@20 by train-frequency bin, VCTree SGDet\n",
        table(settings, fsr_rows, FEW_SHOT) + _few_shot_difference(settings),
    ])


def _few_shot_difference(settings: Settings) -> str:
    """Table 3's EBM - CE row, paired by seed (empty without a pair)."""
    ebm, ce = (setting_name("vctree", "sgdet", m) for m in ("ebm", "ce"))
    diffs = [_difference(settings, ebm, ce, metric) for metric in FEW_SHOT]
    return f"\n| VCTree SGDet EBM - CE (seeds) | | {' | '.join(diffs)} |" if any(diffs) else ""
