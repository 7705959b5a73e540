"""Markdown tables of the docs/RESULTS.md experiments (mean ± std over seeds, percent).

    python tools/results_tables.py --output-root output/results > /tmp/tables.md
    python tools/results_tables.py --update docs/RESULTS.md   # rewrite its marked block
    python tools/results_tables.py --section structure --update docs/RESULTS.md
    python tools/results_tables.py --section paper --update docs/RESULTS.md
    python tools/results_tables.py --section retrieval --update docs/RESULTS.md

Reads the runs of tools/run_experiments.py (folders <predictor>_<task>_<method>_seed<k>) and
prints a paired CE-vs-EBM summary (per-seed differences), then, per task, CE vs EBM for every
predictor, then the ablations and the extra variants that exist. Missing runs are listed, not
guessed. Runs evaluated with the structure metrics (context recall, rule violations) add those
columns. ``--section structure`` gives the tables of the plan structure instead (CE, the
confidence-penalty CE, the paper's EBM and the structured EBM; their own marked block);
``--section paper`` the paper's Tables 1-3 (every model with CE and EBM in PredCls, SGCls and
SGDet, zero-shot recall, few-shot bins of VCTree SGDet; plans main, paper, structure);
``--section retrieval`` the paper's Table 4 from scripts/retrieval_table4.sh (``--output-root``
is then its S2G root, output/s2g by default). The
tables are built by the package `experiments` (experiments/tables.py, structure_tables.py,
paper_tables.py).
"""

import argparse

try:
    from experiments import ExperimentError
    from experiments.paper_tables import PAPER_BEGIN, PAPER_END, paper_tables
    from experiments.results import collect
    from experiments.retrieval_tables import (
        RETRIEVAL_BEGIN,
        RETRIEVAL_END,
        collect_retrieval,
        retrieval_table,
    )
    from experiments.structure_tables import STRUCTURE_BEGIN, STRUCTURE_END, structure_tables
    from experiments.tables import BEGIN, END, tables, update
except ModuleNotFoundError as error:  # an install that predates the package experiments
    raise SystemExit(f"{error}: install the project first (pip install -e . in the repository "
                     "root), then run this command again") from error


# section -> (table builder, begin marker, end marker)
SECTIONS = {"main": (tables, BEGIN, END),
            "structure": (structure_tables, STRUCTURE_BEGIN, STRUCTURE_END),
            "paper": (paper_tables, PAPER_BEGIN, PAPER_END),
            "retrieval": (retrieval_table, RETRIEVAL_BEGIN, RETRIEVAL_END)}
DEFAULT_ROOTS = {"retrieval": "output/s2g"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-root",
                        help="where the runs are (output/results; --section retrieval: "
                             "output/s2g)")
    parser.add_argument("--section", choices=tuple(SECTIONS), default="main",
                        help="main: the CE-vs-EBM grid and its studies; structure: the plan "
                             "structure (energy-based learning that learns structure); paper: "
                             "the paper's Tables 1-3; retrieval: Table 4")
    parser.add_argument("--update", metavar="MARKDOWN",
                        help="replace the text between the section's marker lines in this file "
                             "instead of printing: " + "; ".join(
                                 f"{name}: {begin!r} ... {end!r}"
                                 for name, (_, begin, end) in SECTIONS.items()))
    args = parser.parse_args()
    try:
        root = args.output_root or DEFAULT_ROOTS.get(args.section, "output/results")
        build, begin, end = SECTIONS[args.section]
        text = build(collect_retrieval(root) if args.section == "retrieval" else collect(root))
        if args.update:
            update(args.update, text, begin, end)
        else:
            print(text)
    except ExperimentError as error:
        raise SystemExit(str(error)) from error


if __name__ == "__main__":
    main()
