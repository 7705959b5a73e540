"""Print evaluation results of several runs side by side (percent; Markdown table).

    python tools/compare_results.py CE=output/quickstart/motifs_predcls_ce \\
        EBM=output/quickstart/motifs_predcls_ebm
    python tools/compare_results.py CE=out/ce_seed0,out/ce_seed1 EBM=out/ebm_seed0,out/ebm_seed1

A comma-separated list of run folders is one column with mean ± std over them (seeds). On the
synthetic benchmark the structure metrics (ctxR, ctx-mR, viol, viol-any; viol in violations per
image) follow; --joint-decode reads the results re-decoded under the scene rules
(TEST.RELATION.JOINT_DECODE, inference/<dataset>_joint_decode/); --violations adds the
violations per image of each rule kind (viol[pair]@K, ...), --per-predicate K the recall
at K of each predicate class (R[on]@K, ...). A column name=DIR:joint reads
one column's runs that way, e.g. to put a run and its joint decoding side by side:

    python tools/compare_results.py CE=out/ce "CE + joint=out/ce:joint"

--energy-ranking compares energy models instead: each folder's test ranking
(energy_ranking.json of tools/energy_pretrain_net.py --rank-only, or the pretraining's own),
one row per kind of change and k (percent of GT graphs below their changed copy):

    python tools/compare_results.py --energy-ranking plain=output/energy_ranking/plain_seed0
"""

import argparse
import logging
import sys

from maskrcnn_benchmark.evaluation.compare import (
    STRUCTURE_ROWS,
    aggregate_runs,
    comparison_table,
    energy_ranking_rows,
    load_eval_results,
    metric_rows,
)

MAIN_METRICS = ["R@20", "R@50", "R@100", "mR@20", "mR@50", "mR@100", "zsR@20", "zsR@50",
                "zsR@100"]
# Structure rows shown with the main metrics when present (synthetic benchmark).
MAIN_STRUCTURE = [f"{name}@{k}" for name in STRUCTURE_ROWS if not name.startswith("ng-")
                  for k in (20, 50, 100)]
JOINT_TAG = ":joint"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=DIR[,DIR...]")
    parser.add_argument("--all", action="store_true", help="every metric, not the main ones")
    parser.add_argument("--dataset", default=None, help="dataset folder under inference/")
    parser.add_argument("--violations", action="store_true",
                        help="also the violations per image of each rule kind (synthetic data)")
    parser.add_argument("--per-predicate", type=int, default=None, metavar="K",
                        choices=(20, 50, 100), help="also the recall at K of each predicate")
    parser.add_argument("--joint-decode", action="store_true",
                        help="read every run's TEST.RELATION.JOINT_DECODE results")
    parser.add_argument("--energy-ranking", action="store_true",
                        help="compare energy models' test rankings (folders of "
                             "tools/energy_pretrain_net.py) instead of evaluation results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    columns = {}
    for spec in args.runs:
        name, _, dirs = spec.partition("=")
        if not dirs:
            parser.error(f"expected NAME=DIR, got {spec!r}")
        joint = args.joint_decode or dirs.endswith(JOINT_TAG)
        dirs = dirs.removesuffix(JOINT_TAG)
        try:
            rows = [energy_ranking_rows(d) if args.energy_ranking
                    else metric_rows(load_eval_results(d, args.dataset, joint))
                    for d in dirs.split(",")]
        except (FileNotFoundError, ValueError) as err:
            sys.exit(f"compare_results.py: error: {err}")
        columns[name] = rows[0] if len(rows) == 1 else aggregate_runs(rows)
    first = next(iter(columns.values()))
    if args.energy_ranking:
        metrics = sorted({key for column in columns.values() for key in column})
        sys.stdout.write(comparison_table(columns, metrics) + "\n")
        return
    metrics = list(first) if args.all else (
        MAIN_METRICS + [k for k in first if k.startswith("fsR@20")]
        + [k for k in MAIN_STRUCTURE if k in first]
        + [k for k in first if args.violations and k.startswith("viol[")]
        + [k for k in first if args.per_predicate and k.startswith("R[")
           and k.endswith(f"@{args.per_predicate}")])
    sys.stdout.write(comparison_table(columns, metrics) + "\n")


if __name__ == "__main__":
    main()
