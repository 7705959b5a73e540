"""Markdown tables of the docs/RESULTS.md experiments (mean ± std over seeds, percent).

    python tools/results_tables.py --output-root output/results > /tmp/tables.md
    python tools/results_tables.py --update docs/RESULTS.md   # rewrite its marked block
    python tools/results_tables.py --section structure --update docs/RESULTS.md
    python tools/results_tables.py --section paper --update docs/RESULTS.md
    python tools/results_tables.py --section retrieval --update docs/RESULTS.md
    python tools/results_tables.py --section retrieval-seed0 --update docs/RESULTS.md

Reads the runs of tools/run_experiments.py (folders <predictor>_<task>_<method>_seed<k>) and
prints a paired CE-vs-EBM summary (per-seed differences), then, per task, CE vs EBM for every
predictor, then the ablations and the extra variants that exist. Missing runs are listed, not
guessed. Runs evaluated with the structure metrics (context recall, rule violations) add those
columns. ``--section structure`` gives the tables of the plan structure instead (CE, the
confidence-penalty CE, the paper's EBM and the structured EBM; their own marked block);
``--section paper`` the paper's Tables 1-3 (every model with CE and EBM in PredCls, SGCls and
SGDet, zero-shot recall, few-shot bins of VCTree SGDet; plans main, paper, structure);
``--section retrieval`` the paper's Table 4 from scripts/retrieval_table4.sh (``--output-root``
is then its S2G root, output/s2g by default), ``--section retrieval-seed0`` the same for the
SGDet runs of seed 0 only (every protocol; their own marked block). The
tables are built by the package `experiments` (experiments/sections.py names the sections:
tables.py, structure_tables.py, paper_tables.py, retrieval_tables.py).
"""

import argparse

try:
    from experiments import ExperimentError
    from experiments.sections import SECTIONS, section_text
    from experiments.tables import update
except ModuleNotFoundError as error:  # an install that predates the package experiments
    raise SystemExit(f"{error}: install the project first (pip install -e . in the repository "
                     "root), then run this command again") from error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-root",
                        help="where the runs are (output/results; --section retrieval: "
                             "output/s2g)")
    parser.add_argument("--section", choices=tuple(SECTIONS), default="main",
                        help="main: the CE-vs-EBM grid and its studies; structure: the plan "
                             "structure (energy-based learning that learns structure); paper: "
                             "the paper's Tables 1-3; retrieval: Table 4; "
                             "retrieval-seed0: Table 4 of the seed-0 SGDet runs")
    parser.add_argument("--update", metavar="MARKDOWN",
                        help="replace the text between the section's marker lines in this file "
                             "instead of printing: " + "; ".join(
                                 f"{name}: {section.begin!r} ... {section.end!r}"
                                 for name, section in SECTIONS.items()))
    args = parser.parse_args()
    try:
        text = section_text(args.section, args.output_root)
        if args.update:
            section = SECTIONS[args.section]
            update(args.update, text, section.begin, section.end)
        else:
            print(text)
    except ExperimentError as error:
        raise SystemExit(str(error)) from error


if __name__ == "__main__":
    main()
