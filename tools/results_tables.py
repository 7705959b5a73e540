"""Markdown tables of the docs/RESULTS.md experiments (mean ± std over seeds, percent).

    python tools/results_tables.py --output-root output/results > /tmp/tables.md
    python tools/results_tables.py --update docs/RESULTS.md   # rewrite its marked block
    python tools/results_tables.py --section structure --update docs/RESULTS.md

Reads the runs of tools/run_experiments.py (folders <predictor>_<task>_<method>_seed<k>) and
prints a paired CE-vs-EBM summary (per-seed differences), then, per task, CE vs EBM for every
predictor, then the ablations and the extra variants that exist. Missing runs are listed, not
guessed. Runs evaluated with the structure metrics (context recall, rule violations) add those
columns. ``--section structure`` gives the tables of the plan structure instead (CE, the
confidence-penalty CE, the paper's EBM and the structured EBM; their own marked block). The
tables are built by the package `experiments` (experiments/tables.py, structure_tables.py).
"""

import argparse

try:
    from experiments import ExperimentError
    from experiments.results import collect
    from experiments.structure_tables import STRUCTURE_BEGIN, STRUCTURE_END, structure_tables
    from experiments.tables import BEGIN, END, tables, update
except ModuleNotFoundError as error:  # an install that predates the package experiments
    raise SystemExit(f"{error}: install the project first (pip install -e . in the repository "
                     "root), then run this command again") from error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-root", default="output/results")
    parser.add_argument("--section", choices=("main", "structure"), default="main",
                        help="main: the CE-vs-EBM grid and its studies; structure: the plan "
                             "structure (energy-based learning that learns structure)")
    parser.add_argument("--update", metavar="MARKDOWN",
                        help=f"replace the text between {BEGIN!r} and {END!r} (--section "
                             f"structure: {STRUCTURE_BEGIN!r} and {STRUCTURE_END!r}) in this "
                             "file instead of printing")
    args = parser.parse_args()
    try:
        settings = collect(args.output_root)
        structure = args.section == "structure"
        text = structure_tables(settings) if structure else tables(settings)
        if args.update:
            update(args.update, text, *((STRUCTURE_BEGIN, STRUCTURE_END) if structure
                                        else (BEGIN, END)))
        else:
            print(text)
    except ExperimentError as error:
        raise SystemExit(str(error)) from error


if __name__ == "__main__":
    main()
