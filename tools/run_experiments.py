"""Run the docs/RESULTS.md experiments: CE vs EBM per predictor and task over seeds, ablations.

Each run is tools/relation_train_net.py with configs/synthetic_default/base.yaml and overrides,
in OUTPUT_ROOT/<name>; finished runs (eval_results.json present) are skipped, so the command can
be re-run after an interruption. Runs go --workers at a time, one CPU thread each.

    python tools/run_experiments.py --plan main --workers 2
    python tools/run_experiments.py --plan ablation --workers 2
    python tools/run_experiments.py --plan extras --workers 2   # gradient modes, refinement
    python tools/run_experiments.py --plan main --dry-run      # list the runs
    python tools/run_experiments.py --plan main,ablation --only 'motifs_predcls' 'tau'
    python tools/run_experiments.py --plan structure --workers 2  # structured energy learning

--plan takes a comma-separated list; --only keeps the runs whose name matches one of the given
regular expressions and orders them by the first pattern they match (a priority queue). Several
runners may share one output root: each run is claimed with a lock file (<out>/.claim, holding
the runner's pid; a claim of a dead process is taken over), so two runners started on the same
plan split its runs between them.

Test-only runs (test-time refinement, energy-guided decoding) evaluate a finished run's
model_final.pth into their own folder with tools/relation_test_net.py. A training run whose
ENERGY_MODEL.WEIGHT (a pretrained energy model, plan structure) does not exist yet first runs
tools/energy_pretrain_net.py with its overrides into that file's folder. The plans and the
runner live in the package `experiments` (experiments/plans.py, experiments/runner.py).
"""

import argparse
import logging
import sys

try:
    from experiments import ExperimentError, plans, runner
except ModuleNotFoundError as error:  # an install that predates the package experiments
    raise SystemExit(f"{error}: install the project first (pip install -e . in the repository "
                     "root), then run this command again") from error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="main", help=f"comma-separated: {', '.join(plans.PLANS)}")
    parser.add_argument("--config", default="configs/synthetic_default/base.yaml")
    parser.add_argument("--output-root", default="output/results")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", nargs="+", default=[], metavar="REGEX",
                        help="keep runs matching one of these, in this priority order")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("opts", nargs="*", help="extra KEY VALUE overrides for every run")
    args = parser.parse_intermixed_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        runs = runner.select(plans.build(args.plan.split(","), args.output_root), args.only)
        if args.dry_run:
            print("\n".join(runner.dry_run(runs, args.output_root)))
            return
        failed = runner.run_all(runs, workers=args.workers, output_root=args.output_root,
                                config=args.config, extra_opts=args.opts)
    except ExperimentError as error:
        raise SystemExit(str(error)) from error
    if failed:
        raise SystemExit(f"failed runs: {failed}")


if __name__ == "__main__":
    main()
