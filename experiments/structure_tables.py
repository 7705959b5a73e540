"""The docs/RESULTS.md tables of energy-based learning that learns structure (plan structure).

``structure_tables(collect(root))``: per setting (Motifs / VCTree x PredCls / SGCls) CE, the
confidence-penalty CE, the paper's EBM, and CE with energy-guided decoding (also with the
fillers rescored); each method against CE paired by seed and pooled over settings (mean,
standard error, t, two-sided p; rule violations also as a relative change); their few-shot
bins; the energy diagnostics of the paper's EBM and of the structured screens; CE with the
decoders against the oracle's joint decoding of the same scores (seed 0); and the screening
variants of structured energy learning. Missing runs show as "not run".
"""

from __future__ import annotations

from .plans import (
    CENTERED,
    DECODED,
    DEMOTED,
    FILLED,
    FILLED_PLAIN,
    STRUCTURE_METHODS,
    STRUCTURE_SCREEN,
    STRUCTURE_SETTINGS,
    setting_name,
)
from .results import DIAGNOSTIC_KEYS, JOINT_PREFIX, Settings
from .stats import paired_test
from .tables import FEW_SHOT, Rows, present, seed_pairs, table

__all__ = ["STRUCTURE_BEGIN", "STRUCTURE_END", "STRUCTURE_TABLE_COLUMNS", "PAIRED_METRICS",
           "method_rows", "paired_against_ce", "structure_tables"]

STRUCTURE_BEGIN = "<!-- structure_tables:begin -->"
STRUCTURE_END = "<!-- structure_tables:end -->"
STRUCTURE_TABLE_COLUMNS = ["mR@20", "mR@50", "mR@100", "R@50", "zsR@50", "ctx-mR@50",
                           "ctxR@50", "viol@20", "viol-any@20"]
PAIRED_METRICS = ["mR@50", "R@50", "ctx-mR@50", "viol@20"]


def method_rows(predictor: str, task: str) -> Rows:
    """(label, setting) of the methods (STRUCTURE_METHODS) of one setting."""
    return [(label, setting_name(predictor, task, method, suffix))
            for label, (method, suffix) in STRUCTURE_METHODS.items()]


def paired_against_ce(settings: Settings) -> str:
    """Every method minus CE, paired by setting and seed, pooled over the settings."""
    lines = ["| method | metric | pairs | CE | method | method - CE | t | p |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, (method, suffix) in STRUCTURE_METHODS.items():
        if (method, suffix) == ("ce", ""):
            continue
        for metric in PAIRED_METRICS:
            pairs = [pair for predictor, task in STRUCTURE_SETTINGS
                     for pair in seed_pairs(settings, setting_name(predictor, task, method, suffix),
                                        setting_name(predictor, task, "ce", ""), metric)]
            if not pairs:
                lines.append(f"| {label} | {metric} | 0 | not run | | | | |")
                continue
            test = paired_test([ours - base for base, ours in pairs])
            ce_mean = sum(base for base, _ in pairs) / len(pairs)
            ours_mean = sum(ours for _, ours in pairs) / len(pairs)
            spread = f" ± {test.stderr:.2f}" if test.stderr is not None else ""
            relative = (f" ({100 * test.mean / ce_mean:+.0f}%)"
                        if metric.startswith("viol") and ce_mean else "")
            lines.append(
                f"| {label} | {metric} | {test.n} | {ce_mean:.2f} | {ours_mean:.2f} | "
                f"{test.mean:+.2f}{spread}{relative} | "
                f"{'n/a' if test.t is None else f'{test.t:.2f}'} | "
                f"{'n/a' if test.p is None else f'{test.p:.3g}'} |")
    return "\n".join(lines)


def _decoding(settings: Settings) -> str:
    """CE as trained and with energy-guided decoding (the pretrained energy models), and the
    oracle's joint decoding of its scores (seed 0)."""
    rows: Rows = []
    for predictor, task in STRUCTURE_SETTINGS:
        rows += [(f"{predictor} {task} CE", setting_name(predictor, task, "ce")),
                 (f"{predictor} {task} CE + energy-guided decoding (pretrained energy)",
                  setting_name(predictor, task, "ce", DECODED)),
                 (f"{predictor} {task} CE + energy-guided decoding, weight 3",
                  setting_name(predictor, task, "ce", f"{DECODED}_w3")),
                 (f"{predictor} {task} CE + energy-guided decoding, fillers rescored",
                  setting_name(predictor, task, "ce", FILLED)),
                 (f"{predictor} {task} CE + energy-guided decoding, fillers rescored by its "
                  "own energy", setting_name(predictor, task, "ce", FILLED_PLAIN)),
                 (f"{predictor} {task} CE + energy-guided decoding, fillers demoted",
                  setting_name(predictor, task, "ce", DEMOTED)),
                 (f"{predictor} {task} CE + energy-guided decoding, fillers rescored, centred",
                  setting_name(predictor, task, "ce", CENTERED))]
    columns = ["mR@50", "R@50", "ctx-mR@50", "ctxR@50", "viol@20", "viol-any@20"]
    joint = present(settings, [s for _, s in rows], [JOINT_PREFIX + c for c in columns], (0,))
    return table(settings, rows, present(settings, [s for _, s in rows], columns, (0,)) + joint,
                 seeds=(0,))


def structure_tables(settings: Settings) -> str:
    """All tables of the structure plan as one Markdown text."""
    out = []
    for predictor, task in STRUCTURE_SETTINGS:
        rows = method_rows(predictor, task)
        columns = present(settings, [s for _, s in rows], STRUCTURE_TABLE_COLUMNS)
        out.append(f"\n#### {predictor} {task}\n\n" + table(settings, rows, columns))
    out.append("\n#### against CE, paired by setting and seed\n\n" + paired_against_ce(settings))
    few_rows = [(f"{p} {t} {label}", setting) for p, t in STRUCTURE_SETTINGS
                for label, setting in method_rows(p, t)]
    out.append("\n#### few-shot recall@20 by train-frequency bin\n\n"
               + table(settings, few_rows, FEW_SHOT))
    ebm_rows = [(f"{p} {t} {label}", setting) for p, t in STRUCTURE_SETTINGS
                for label, setting in method_rows(p, t) if "EBM" in label]
    ebm_rows += [(f"screen: {label}", setting) for label, setting in STRUCTURE_SCREEN.rows()
                 if "_struct" in setting]
    out.append("\n#### energy diagnostics (tools/energy_diagnostics.py)\n\n"
               + table(settings, ebm_rows, list(DIAGNOSTIC_KEYS)))
    out.append("\n#### energy-guided decoding against the oracle's joint decoding, seed 0\n\n"
               + _decoding(settings))
    screen = STRUCTURE_SCREEN.rows()
    out.append(f"\n#### {STRUCTURE_SCREEN.title}, seed 0\n\n"
               + table(settings, screen, present(settings, [s for _, s in screen],
                                                 STRUCTURE_TABLE_COLUMNS, (0,)), seeds=(0,)))
    return "\n".join(out)
