"""Seconds per relation training step of named variants of one config, interleaved in one process.

Each --variant is a name and KEY VALUE overrides added to the config file and the common
overrides (the positional KEY VALUE pairs, written before the first --variant). The first
variant is the baseline of the ratios. Steps run round-robin over the variants on the same
batches (see maskrcnn_benchmark/engine/step_benchmark.py), so machine load hits all alike.

    OMP_NUM_THREADS=1 python tools/benchmark_training_step.py \\
        --config-file configs/synthetic_default/base.yaml --steps 20 --warmup 3 \\
        --variant ce MODEL.ENERGY_ON False --variant ebm MODEL.ENERGY_ON True
    OMP_NUM_THREADS=1 python tools/benchmark_training_step.py \\
        --config-file configs/synthetic_default/base.yaml --plan-variants \\
        --predictor motifs --task predcls       # CE, paper EBM, structured EBM of experiments/
"""

import argparse
import logging
import os

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.engine.step_benchmark import (
    StepBenchmarkError,
    StepVariant,
    benchmark_training_steps,
    format_step_table,
    parse_variant,
    variant_configs,
    write_step_report,
)


def plan_variants(predictor: str, task: str, seed: int) -> list[StepVariant]:
    """CE, the paper's EBM and the structured EBM of one main-grid setting (experiments/)."""
    from experiments.plans import STRUCTURED_EBM, run_overrides

    return [StepVariant("ce", tuple(run_overrides(predictor, task, False, seed))),
            StepVariant("ebm", tuple(run_overrides(predictor, task, True, seed))),
            StepVariant("struct", (*run_overrides(predictor, task, True, seed),
                                   *STRUCTURED_EBM))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--config-file", required=True, metavar="FILE")
    parser.add_argument("--variant", action="append", nargs="+", default=[],
                        metavar="NAME [KEY VALUE ...]", help="a named variant (repeatable)")
    parser.add_argument("--plan-variants", action="store_true",
                        help="start with ce, ebm and struct from experiments.plans")
    parser.add_argument("--predictor", default="motifs", help="with --plan-variants")
    parser.add_argument("--task", default="predcls", help="with --plan-variants")
    parser.add_argument("--seed", type=int, default=0, help="with --plan-variants")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant first")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: leave as set, e.g. by OMP_NUM_THREADS)")
    parser.add_argument("--output-dir", default="output/step_benchmark",
                        help="OUTPUT_DIR of every variant (dataset statistics cache)")
    parser.add_argument("--json", default="", help="report path (default OUTPUT_DIR/"
                        "step_benchmark.json)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the variants' configs and list them; run nothing")
    parser.add_argument("opts", nargs="*", default=[], help="common KEY VALUE overrides")
    args = parser.parse_intermixed_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: "
                        "%(message)s")
    logging.getLogger("maskrcnn_benchmark.engine.step_benchmark").setLevel(logging.INFO)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        variants = plan_variants(args.predictor, args.task, args.seed) if args.plan_variants \
            else []
        variants += [parse_variant(tokens) for tokens in args.variant]
        base = get_cfg()
        base.merge_from_file(args.config_file)
        base.merge_from_list(["OUTPUT_DIR", args.output_dir, *args.opts])
        if args.dry_run:
            for variant, cfg in zip(variants, variant_configs(base, variants)):
                print(f"{variant.name}: {' '.join(variant.overrides)} (ENERGY_ON "
                      f"{cfg.MODEL.ENERGY_ON}, predictor {cfg.MODEL.ROI_RELATION_HEAD.PREDICTOR})")
            return
        report = benchmark_training_steps(base, variants, args.steps, args.warmup)
    except (StepBenchmarkError, KeyError, ValueError, FileNotFoundError) as err:
        raise SystemExit(f"benchmark_training_step: {err}") from err
    report["config_file"] = args.config_file
    report["common_overrides"] = list(args.opts)
    path = args.json or os.path.join(base.OUTPUT_DIR, "step_benchmark.json")
    write_step_report(report, path)
    print(f"config {args.config_file} {' '.join(args.opts)}; {report['torch_threads']} "
          f"thread(s), {report['device']}; {args.steps} timed steps per variant after "
          f"{args.warmup} warm-up, interleaved on the same batches")
    print(format_step_table(report))
    print(f"report: {path}")


if __name__ == "__main__":
    main()
