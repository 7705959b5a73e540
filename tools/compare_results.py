"""Print evaluation results of several runs side by side (percent; Markdown table).

    python tools/compare_results.py CE=output/quickstart/motifs_predcls_ce \\
        EBM=output/quickstart/motifs_predcls_ebm
    python tools/compare_results.py CE=out/ce_seed0,out/ce_seed1 EBM=out/ebm_seed0,out/ebm_seed1

A comma-separated list of run folders is one column with mean ± std over them (seeds).
"""

import argparse
import logging
import sys

from maskrcnn_benchmark.evaluation.compare import (
    aggregate_runs,
    comparison_table,
    load_eval_results,
    metric_rows,
)

MAIN_METRICS = ["R@20", "R@50", "R@100", "mR@20", "mR@50", "mR@100", "zsR@20", "zsR@50",
                "zsR@100"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=DIR[,DIR...]")
    parser.add_argument("--all", action="store_true", help="every metric, not the main ones")
    parser.add_argument("--dataset", default=None, help="dataset folder under inference/")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    columns = {}
    for spec in args.runs:
        name, _, dirs = spec.partition("=")
        if not dirs:
            parser.error(f"expected NAME=DIR, got {spec!r}")
        rows = [metric_rows(load_eval_results(d, args.dataset)) for d in dirs.split(",")]
        columns[name] = rows[0] if len(rows) == 1 else aggregate_runs(rows)
    first = next(iter(columns.values()))
    metrics = list(first) if args.all else (
        MAIN_METRICS + [k for k in first if k.startswith("fsR@20")])
    sys.stdout.write(comparison_table(columns, metrics) + "\n")


if __name__ == "__main__":
    main()
